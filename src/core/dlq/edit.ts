import {randomUUID} from 'node:crypto'

import {publishLimitError} from '../amqp-limits.js'
import {OperationError, oneLine, UsageError} from '../errors.js'
import type {OutgoingMessage, PublisherPort} from '../ports.js'
import {type DeadLetterFacts, describeLetter} from './deaths.js'
import {replayMessage, type Target, targetOf, type TargetOverride} from './decide.js'
import type {DeadLetter, DeadLetterQueues} from './ports.js'

export const EDITED_AT_HEADER = 'x-msgops-edited-at'
export const EDITED_FROM_HEADER = 'x-msgops-edited-from'

/** The body and headers the person wants published instead of the dead letter's own. */
export interface EditedLetter {
  body: Buffer
  headers: Record<string, unknown>
}

export interface EditReplayPorts {
  queues: DeadLetterQueues
  publisher: PublisherPort
  /**
   * Told each step as it happens, so that a crash leaves a record of how far it got (the command writes an audit
   * record at 'published': the edited copy was confirmed, the original is not acked yet).
   */
  journal?(step: 'published', report: EditReplayReport): Promise<void>
}

export interface EditReplayOptions {
  queue: string
  messageId: string
  override?: TargetOverride
  /** Publish the edited copy under a new message id (the consumer's inbox then cannot tell it from a new message). */
  newMessageId?: boolean
  errorHeaders: string[]
  idleMs: number
  prefetch: number
  publishTimeoutMs?: number
  /** The edited body and headers; null when nothing changed (nothing is published). Called with the letter held. */
  edit(letter: DeadLetter, facts: DeadLetterFacts, target: Target): Promise<EditedLetter | null>
  /** Asked after the edit, before publishing; false cancels. */
  confirm(plan: {messageId: string; target: Target; newMessageId?: string}): Promise<boolean>
  now?: () => number
}

/**
 * Where a run of replay --edit got to, which is also what a crash at that point leaves:
 *
 * | step reached                               | the original dead letter     | the edited copy                 |
 * | ------------------------------------------ | ---------------------------- | ------------------------------- |
 * | not-found, unchanged, cancelled            | in the DLQ (held, returned)  | none                            |
 * | failed (returned, nacked, unconfirmed)     | in the DLQ                   | none (or unknown if unconfirmed)|
 * | published (confirmed, ack not yet sent)    | in the DLQ                   | in the target queue, once       |
 * | acked                                      | gone                         | in the target queue, once       |
 * | published, ack refused (channel closed)    | in the DLQ                   | in the target queue, once       |
 */
export type EditStep = 'not-found' | 'unchanged' | 'cancelled' | 'failed' | 'published' | 'acked'

export interface EditReplayReport {
  queue: string
  messageId: string
  /** The message id of the edited copy (the original's unless --new-message-id). */
  publishedAs?: string
  read: number
  depth: number
  step: EditStep
  target?: Target
  group?: string
  fingerprint?: string
  /** Why it failed, or what the person must know (the original left in the DLQ after its copy was published). */
  detail?: string
}

/** The edited copy: the edited body and headers, the dead letter's other properties, the replay stamps. */
export function editedMessage(letter: DeadLetter, facts: DeadLetterFacts, target: Target, edited: EditedLetter, now: Date, newMessageId?: string): OutgoingMessage {
  const base = replayMessage({...letter, body: edited.body, properties: {...letter.properties, headers: edited.headers}}, facts, target, now)
  const headers = {...base.properties.headers, [EDITED_AT_HEADER]: now.toISOString(), ...(newMessageId ? {[EDITED_FROM_HEADER]: facts.messageId ?? ''} : {})}
  return {...base, properties: {...base.properties, headers, ...(newMessageId ? {messageId: newMessageId} : {})}}
}

/**
 * Edit-and-retry of one dead letter, exactly one copy: the letter is found and held (unacked) while it is edited,
 * the edited copy is published once with confirms and mandatory, and the original is acked only after that publish
 * was confirmed and not returned. Nothing else is taken: every other letter read is held and returned at the end.
 * A crash before the ack leaves the original in the DLQ (its unacked delivery goes back); see EditStep.
 */
export async function replayEdited(ports: EditReplayPorts, options: EditReplayOptions, signal?: AbortSignal): Promise<EditReplayReport> {
  const now = options.now ?? Date.now
  const state = await ports.queues.state(options.queue)
  const report: EditReplayReport = {queue: options.queue, messageId: options.messageId, read: 0, depth: state.messages, step: 'not-found'}
  if (state.messages === 0) return report
  const reader = await ports.queues.open(options.queue, {prefetch: Math.max(1, options.prefetch)})
  try {
    let found: {letter: DeadLetter; facts: DeadLetterFacts} | undefined
    while (!found && report.read < state.messages && !signal?.aborted) {
      const letter = await reader.next(options.idleMs)
      if (!letter) break
      report.read++
      reader.hold(letter)
      const facts = describeLetter(letter, options.errorHeaders)
      if (facts.messageId === options.messageId) found = {letter, facts}
    }
    if (!found) return report
    const {letter, facts} = found
    report.group = facts.group
    report.fingerprint = facts.fingerprint
    const target = targetOf(facts, options.override)
    if (!target) throw new UsageError(`dead letter ${options.messageId} has no original exchange and routing key (no x-death)`, 'name where it goes with --to-exchange/--to-routing-key or --to-queue; nothing was changed')
    report.target = target
    const edited = await options.edit(letter, facts, target)
    if (!edited) return {...report, step: 'unchanged'}
    const newId = options.newMessageId ? randomUUID() : undefined
    if (!(await options.confirm({messageId: options.messageId, target, newMessageId: newId}))) return {...report, step: 'cancelled'}
    const message = editedMessage(letter, facts, target, edited, new Date(now()), newId)
    report.publishedAs = message.properties.messageId
    const limit = publishLimitError(message)
    if (limit) throw new UsageError(`the edited message cannot be published: ${limit}`, 'shorten it; nothing was changed')
    if (ports.publisher.missingExchanges && (await ports.publisher.missingExchanges([target.exchange])).has(target.exchange))
      throw new OperationError(`RabbitMQ: exchange "${target.exchange}" does not exist`, 'declare it or name another --to-exchange; nothing was published, the dead letter is still in the queue')
    let outcome
    try {
      ;[outcome] = await ports.publisher.publishBatch([message], {timeoutMs: options.publishTimeoutMs})
    } catch (error) {
      // Unconfirmed: it may or may not have arrived, so the original stays; the report says so.
      return {...report, step: 'failed', detail: `unconfirmed: ${oneLine((error as Error).message)}; the original is still in the DLQ; check ${target.routingKey} before trying again`}
    }
    if (outcome.status !== 'confirmed') return {...report, step: 'failed', detail: `${outcome.status}: ${outcome.reason}; nothing arrived, the original is still in the DLQ`}
    report.step = 'published'
    // The ack must follow whatever happens to the record: without it the original would stay beside its delivered copy.
    const journaled = await ports.journal?.('published', report).then(() => true, () => false)
    if (journaled === false) report.detail = 'the audit record of the publish could not be written'
    if (!reader.ack(letter))
      return {...report, detail: 'the edited copy was delivered, but the original could not be acked (the channel closed): it is still in the DLQ; do not replay it again'}
    return {...report, step: 'acked'}
  } finally {
    await reader.close()
  }
}

/** A body is edited as JSON when it is JSON or says so (content type): then the edit must stay JSON. */
export function isJsonBody(body: Buffer, contentType: string | undefined): boolean {
  if (contentType?.toLowerCase().includes('json')) return true
  try {
    JSON.parse(body.toString('utf8'))
    return true
  } catch {
    return false
  }
}

/**
 * The text the editor shows for a body.
 *
 * | body                        | shown as                                   |
 * | --------------------------- | ------------------------------------------ |
 * | JSON                        | indented JSON                              |
 * | UTF-8 text that is not JSON | the text as it is                          |
 * | bytes that are not UTF-8    | refused: edit it with --body-file instead  |
 */
export function bodyForEditor(body: Buffer, contentType: string | undefined): string {
  const text = body.toString('utf8')
  if (!Buffer.from(text, 'utf8').equals(body)) throw new UsageError('the dead letter\'s body is not UTF-8 text, so it cannot be edited in an editor', 'write the new body to a file and pass --body-file FILE')
  if (!isJsonBody(body, contentType)) return text
  try {
    return `${JSON.stringify(JSON.parse(text), null, 2)}\n`
  } catch {
    return text
  }
}

/**
 * The body to publish from the edited bytes.
 *
 * | original body (isJsonBody) | edited bytes     | published body                   |
 * | -------------------------- | ---------------- | -------------------------------- |
 * | JSON                       | valid JSON       | that JSON, compact               |
 * | JSON                       | not JSON         | usage error, nothing published   |
 * | not JSON                   | anything         | the bytes as they are            |
 */
export function editedBody(original: Buffer, contentType: string | undefined, edited: Buffer, what: string): Buffer {
  if (!isJsonBody(original, contentType)) return edited
  try {
    return Buffer.from(JSON.stringify(JSON.parse(edited.toString('utf8'))), 'utf8')
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message.split('\n')[0]}`, 'fix it and run again; nothing was published and the dead letter is still in the queue')
  }
}

/** --set-header name=value pairs over the letter's headers; the value as text. */
export function withHeaders(headers: Record<string, unknown> | undefined, pairs: string[]): Record<string, unknown> {
  const out = {...headers}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--set-header "${pair.slice(0, 60)}" is not name=value`, 'write it as --set-header x-tenant=acme')
    out[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return out
}
