import type {ProgressCallback} from '../ports.js'
import {bodyPreview, describeLetter, jsonSafe} from './deaths.js'
import type {DeadLetterQueues} from './ports.js'

export interface InspectOptions {
  queue: string
  /** Read at most this many messages (and never more than the depth seen at the start). */
  max: number
  sample: number
  errorHeaders: string[]
  /** Characters of body shown per sample. */
  bodyChars: number
  /** Stop when no delivery arrives for this long (another consumer may be taking them). */
  idleMs: number
  prefetch: number
}

export interface InspectGroup {
  key: string
  /** The fingerprint of the group's failure (the same error with other ids has the same one): replay/purge --group take it too. */
  fingerprint: string
  count: number
  oldest?: string
  newest?: string
  reason: string
  queue: string
  exchange?: string
  routingKey?: string
  error?: string
}

export interface InspectSample {
  messageId?: string
  group: string
  reason: string
  routingKey?: string
  diedAt?: string
  deaths: number
  replayCount: number
  redelivered: boolean
  headers: Record<string, unknown>
  body: string
  bodyEncoding: 'utf8' | 'base64'
  bodyBytes: number
  truncated: boolean
}

export interface InspectReport {
  queue: string
  depth: number
  consumers: number
  /** Messages read; less than the depth when --limit stopped it or others consumed them. */
  read: number
  complete: boolean
  groups: InspectGroup[]
  samples: InspectSample[]
  interrupted: boolean
}

/**
 * Reads the queue without taking anything out: every delivery is held unacked and the channel is closed at the
 * end, which returns them all to the queue in their original order (marked redelivered).
 */
export async function inspectDeadLetters(
  queues: DeadLetterQueues,
  options: InspectOptions,
  progress: ProgressCallback = () => {},
  signal?: AbortSignal,
): Promise<InspectReport> {
  const state = await queues.state(options.queue)
  const total = Math.min(state.messages, options.max)
  const groups = new Map<string, InspectGroup & {oldestMs?: number; newestMs?: number}>()
  const samples: InspectSample[] = []
  let read = 0
  if (total > 0) {
    const reader = await queues.open(options.queue, {prefetch: Math.min(options.prefetch, total)})
    try {
      while (read < total && !signal?.aborted) {
        const letter = await reader.next(options.idleMs)
        if (!letter) break
        read++
        reader.hold(letter)
        const facts = describeLetter(letter, options.errorHeaders)
        let group = groups.get(facts.group)
        if (!group) {
          group = {key: facts.group, fingerprint: facts.fingerprint, count: 0, reason: facts.reason, queue: facts.queue, exchange: facts.exchange, routingKey: facts.routingKey, error: facts.error}
          groups.set(facts.group, group)
        }
        group.count++
        const at = facts.diedAt?.getTime()
        if (at !== undefined) {
          if (group.oldestMs === undefined || at < group.oldestMs) group.oldestMs = at
          if (group.newestMs === undefined || at > group.newestMs) group.newestMs = at
        }
        if (samples.length < options.sample) {
          const body = bodyPreview(letter.body, options.bodyChars)
          samples.push({
            messageId: facts.messageId,
            group: facts.group,
            reason: facts.reason,
            routingKey: facts.routingKey,
            diedAt: facts.diedAt?.toISOString(),
            deaths: facts.deaths,
            replayCount: facts.replayCount,
            redelivered: letter.redelivered,
            headers: jsonSafe(letter.properties.headers ?? {}) as Record<string, unknown>,
            body: body.text,
            bodyEncoding: body.encoding,
            bodyBytes: letter.body.length,
            truncated: body.truncated,
          })
        }
        if (read % 100 === 0 || read === total) progress({done: read, total})
      }
    } finally {
      await reader.close()
    }
  }
  const list = [...groups.values()]
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
    .map(({oldestMs, newestMs, ...g}) => ({
      ...g,
      oldest: oldestMs === undefined ? undefined : new Date(oldestMs).toISOString(),
      newest: newestMs === undefined ? undefined : new Date(newestMs).toISOString(),
    }))
  return {
    queue: options.queue,
    depth: state.messages,
    consumers: state.consumers,
    read,
    complete: read >= state.messages,
    groups: list,
    samples,
    interrupted: signal?.aborted === true,
  }
}
