import {UsageError} from '../errors.js'
import type {OutgoingMessage} from '../ports.js'
import {type DeadLetterFacts, headerText, KNOWN_REASONS, REPLAY_COUNT_HEADER, REPLAYED_AT_HEADER} from './deaths.js'
import type {DeadLetter} from './ports.js'

/** Which dead letters a replay or purge works on; every given filter must match (each list: any of its values). */
export interface DeadLetterFilters {
  /** Group keys or fingerprints (both printed by dlq inspect): a letter matches by either. */
  groups?: string[]
  /** Glob on the original routing key: `*` any run of characters, `?` one character. */
  routingKey?: string
  /** Header name → value compared as text. */
  headers?: Record<string, string>
  messageIds?: string[]
  reasons?: string[]
  /** Only messages that died at least this long ago (ms). */
  olderThanMs?: number
}

/** Where a replayed message goes instead of its original exchange and routing key. */
export type TargetOverride = {queue: string} | {exchange: string; routingKey?: string}

export interface Target {
  exchange: string
  routingKey: string
}

/** A filter that can never match is a typo: refuse it before touching the queue. */
export function checkFilters(filters: DeadLetterFilters): void {
  for (const reason of filters.reasons ?? [])
    if (!(KNOWN_REASONS as readonly string[]).includes(reason) && reason !== 'none')
      throw new UsageError(`--reason "${reason}" is not a dead-letter reason`, `use one of ${KNOWN_REASONS.join(', ')} (or none: no x-death)`)
  for (const group of filters.groups ?? [])
    if (!/^[0-9a-f]{8}$/.test(group)) throw new UsageError(`--group "${group}" is not a group key or fingerprint`, 'use a key or fingerprint printed by msgops dlq inspect (8 hex characters)')
}

export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replaceAll(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')
  return new RegExp(`^${escaped}$`, 's')
}

/** Builds the matcher once: called for every message. */
export function matcher(filters: DeadLetterFilters, now: () => number): (letter: DeadLetter, facts: DeadLetterFacts) => boolean {
  const key = filters.routingKey === undefined ? undefined : globToRegExp(filters.routingKey)
  const headers = Object.entries(filters.headers ?? {})
  const ids = filters.messageIds?.length ? new Set(filters.messageIds) : undefined
  const groups = filters.groups?.length ? new Set(filters.groups) : undefined
  const reasons = filters.reasons?.length ? new Set(filters.reasons) : undefined
  return (letter, facts) => {
    if (groups && !groups.has(facts.group) && !groups.has(facts.fingerprint)) return false
    if (reasons && !reasons.has(facts.reason)) return false
    if (ids && (facts.messageId === undefined || !ids.has(facts.messageId))) return false
    if (key && !key.test(facts.routingKey ?? '')) return false
    for (const [name, value] of headers) if (headerText(letter.properties.headers?.[name]) !== value) return false
    if (filters.olderThanMs !== undefined && (!facts.diedAt || now() - facts.diedAt.getTime() < filters.olderThanMs)) return false
    return true
  }
}

export type ReplayDecision =
  | {action: 'move'; target: Target}
  | {action: 'skip'; why: 'max-replays' | 'no-target'}
  | {action: 'leave'}

/**
 * What replay does with one dead letter.
 *
 * | matches the filters | replay count ≥ --max-replays | target (override, else first x-death) | action                         |
 * | ------------------- | ---------------------------- | ------------------------------------- | ------------------------------ |
 * | no                  | any                          | any                                   | leave (returned, not reported) |
 * | yes                 | yes                          | any                                   | skip max-replays (reported)    |
 * | yes                 | no                           | none                                  | skip no-target (reported)      |
 * | yes                 | no                           | known                                 | move                           |
 *
 * Left and skipped messages both stay in the queue, in place; a skip is something to look at, a leave is not.
 */
export function decideReplay(
  facts: DeadLetterFacts,
  matches: boolean,
  options: {maxReplays: number; override?: TargetOverride},
): ReplayDecision {
  if (!matches) return {action: 'leave'}
  if (facts.replayCount >= options.maxReplays) return {action: 'skip', why: 'max-replays'}
  const target = targetOf(facts, options.override)
  return target ? {action: 'move', target} : {action: 'skip', why: 'no-target'}
}

/** --to-queue goes through the default exchange; --to-exchange keeps the original key unless --to-routing-key is given. */
export function targetOf(facts: DeadLetterFacts, override?: TargetOverride): Target | undefined {
  if (override && 'queue' in override) return {exchange: '', routingKey: override.queue}
  if (override) {
    const routingKey = override.routingKey ?? facts.routingKey
    return routingKey === undefined ? undefined : {exchange: override.exchange, routingKey}
  }
  if (facts.exchange === undefined || facts.routingKey === undefined) return undefined
  return {exchange: facts.exchange, routingKey: facts.routingKey}
}

/** The republished message: body and properties unchanged, plus the replay stamp and an incremented count. */
export function replayMessage(letter: DeadLetter, facts: DeadLetterFacts, target: Target, now: Date): OutgoingMessage {
  // Spread and assign, not rest destructuring: that one takes V8's slow path, a cost per message in a replay's profile.
  const headers: Record<string, unknown> = {...letter.properties.headers}
  headers[REPLAYED_AT_HEADER] = now.toISOString()
  headers[REPLAY_COUNT_HEADER] = facts.replayCount + 1
  return {exchange: target.exchange, routingKey: target.routingKey, body: letter.body, properties: {...letter.properties, headers}}
}

/**
 * The publisher matches a broker return to the oldest unanswered publish with the same exchange, routing key,
 * message id and body size; two such messages in flight together could be confused, so they never are.
 */
export function returnKey(message: OutgoingMessage): string {
  return JSON.stringify([message.exchange, message.routingKey, message.properties.messageId ?? null, message.body.length])
}

/** Filters from command-line text: `--header k=v` pairs, durations already parsed by the caller. */
export function filtersFromInput(input: {
  groups?: string[]
  routingKey?: string
  headers?: string[]
  messageIds?: string[]
  reasons?: string[]
  olderThanMs?: number
}): DeadLetterFilters {
  const headers: Record<string, string> = {}
  for (const pair of input.headers ?? []) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--header "${pair}" is not name=value`, 'write it as --header x-tenant=acme')
    headers[pair.slice(0, at)] = pair.slice(at + 1)
  }
  const filters: DeadLetterFilters = {
    groups: input.groups,
    routingKey: input.routingKey,
    headers: Object.keys(headers).length > 0 ? headers : undefined,
    messageIds: input.messageIds,
    reasons: input.reasons,
    olderThanMs: input.olderThanMs,
  }
  checkFilters(filters)
  return filters
}
