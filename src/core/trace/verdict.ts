import {formatDuration} from '../duration.js'
import type {DeadLetterFound, DlqState, IdKind, TraceCache, TraceInbox, TraceOrder, TraceOutbox, TraceState, Verdict} from './model.js'

/** The facts one verdict is decided from (gathered by gather.ts, the broker's part by broker.ts). */
export interface VerdictFacts {
  kind: IdKind
  order: TraceOrder | null
  /** An order can be linked to outbox rows (orders.messageId or outbox.aggregateId mapped). */
  linkable: boolean
  /** The message names an order id (its aggregate id, or an order naming it could be looked for) that no order has. */
  orderMissing: boolean
  outbox: TraceOutbox[]
  /** Null when there is no inbox table: consumption cannot be known. */
  inbox: TraceInbox[] | null
  cache: TraceCache
  dlq: {state: DlqState; why?: string; queues: string[]; read: number; found: DeadLetterFound[]}
  graceMs: number
}

export interface Decision extends Verdict {
  repair: string[]
}

/** Worst first: the verdict of an id with several messages is that of its worst message. */
const SEVERITY: TraceState[] = ['no_message', 'no_order', 'dead_letter', 'stuck', 'dead_lettered', 'not_consumed', 'consume_failed', 'unknown', 'in_flight', 'consistent']

/**
 * The verdict on one id, and the commands that repair it (trace itself repairs nothing). Each message (outbox row)
 * gets the state of the first row of this table that holds; the id gets its worst message's state (SEVERITY), and,
 * when every message is consistent, the cache's.
 *
 * | #  | facts                                                                     | state            | repair                                              |
 * | -- | ------------------------------------------------------------------------- | ---------------- | --------------------------------------------------- |
 * | 1  | nothing has the id                                                        | not_found        | -                                                   |
 * | 2  | an order, no outbox row, orders linkable to outbox rows                   | no_message       | - (the order service never wrote it)                |
 * | 3  | an order, no outbox row, nothing links orders to outbox rows              | unknown          | -                                                   |
 * | 4  | a message whose order (its aggregate id) does not exist                   | no_order         | -                                                   |
 * | 5  | inbox records but no outbox row (orphan consumed)                         | unknown          | -                                                   |
 * | 6  | row dead-letter                                                           | dead_letter      | outbox requeue --message-id, then outbox drain      |
 * | 7  | row pending, younger than the grace period                                | in_flight        | -                                                   |
 * | 8  | row pending, older (or its age unknown)                                   | stuck            | reconcile --check message_stuck --fix               |
 * | 9  | row of a status that is none of the three                                 | unknown          | -                                                   |
 * | 10 | row sent, no inbox table                                                  | unknown          | -                                                   |
 * | 11 | row sent, a consumer recorded it failed                                   | consume_failed   | dlq replay --message-id when found in a DLQ         |
 * | 12 | row sent, a consumer received it, not processed, past the grace period    | consume_failed   | dlq replay --message-id when found in a DLQ         |
 * | 13 | row sent, a consumer received it, not processed, within the grace period  | in_flight        | -                                                   |
 * | 14 | row sent, a consumer record of another status                             | unknown          | -                                                   |
 * | 15 | row sent, every consumer record processed                                 | consistent       | -                                                   |
 * | 16 | row sent, no consumer record, found in a dead-letter queue                | dead_lettered    | dlq replay QUEUE --message-id                       |
 * | 17 | row sent, no consumer record, sent within the grace period                | in_flight        | -                                                   |
 * | 18 | row sent, no consumer record, not found (or the DLQs not read)            | not_consumed     | reconcile --check sent_not_consumed --fix, drain    |
 * | 19 | every message consistent, order updated within the grace period, drift    | in_flight        | -                                                   |
 * | 20 | every message consistent, cache missing                                   | cache_missing    | reconcile --check cache_drift --fix                 |
 * | 21 | every message consistent, cache holds another value                       | cache_different  | reconcile --check cache_drift --fix                 |
 * | 22 | every message consistent, cache key unreadable (type, JSON, field)        | cache_unreadable | reconcile --check cache_drift --fix                 |
 * | 23 | every message consistent, cache equal or not comparable (said so)         | consistent       | -                                                   |
 */
export function decideVerdict(f: VerdictFacts): Decision {
  const orderId = f.order?.id
  if (f.kind === 'none') return {state: 'not_found', text: 'not found: no order, outbox row or inbox record has this id', repair: []}
  if (f.outbox.length === 0) {
    if (f.order) {
      if (!f.linkable) return {state: 'unknown', text: 'unknown: the order exists, but no column links orders to outbox rows (map orders.columns.messageId or outbox.columns.aggregateId)', repair: []}
      return {state: 'no_message', text: 'no message: the order has no outbox row, so nothing was ever published for it (the order service did not write it)', repair: []}
    }
    return {state: 'unknown', text: `unknown: consumed by ${consumers(f.inbox ?? [])}, but no outbox row has this message id (orphan consumed)`, repair: []}
  }
  if (f.orderMissing) {
    const named = f.outbox.find((m) => m.aggregateId !== null)?.aggregateId
    return {state: 'no_order', text: `no order: ${named ? `the message names order ${named}, which does not exist` : 'no order names this message'}`, repair: []}
  }
  const decided = f.outbox.map((m) => ({m, d: messageVerdict(m, f)}))
  decided.sort((a, b) => SEVERITY.indexOf(a.d.state) - SEVERITY.indexOf(b.d.state))
  const worst = decided[0]
  if (worst.d.state !== 'consistent') {
    const which = f.outbox.length > 1 ? ` (message ${worst.m.id}, ${f.outbox.length - 1} more)` : ''
    return {...worst.d, text: worst.d.text + which}
  }
  const consumed = decided.map(({d}) => d.text).join('; ')
  return cacheVerdict(f, orderId, consumed)
}

function messageVerdict(m: TraceOutbox, f: VerdictFacts): Decision {
  if (m.state === 'dead-letter')
    return {
      state: 'dead_letter',
      text: `dead letter: ${attempts(m)}set aside by the relay${m.lastError ? `, last error ${clip(m.lastError)}` : ''}`,
      repair: [`msgops outbox requeue --message-id ${sh(m.id)}`, 'msgops outbox drain'],
    }
  if (m.state === 'pending') {
    if (m.ageMs !== null && m.ageMs < f.graceMs) return {state: 'in_flight', text: `in flight: pending for ${formatDuration(m.ageMs)} (within the grace period ${formatDuration(f.graceMs)})`, repair: []}
    const parts = [m.ageMs === null ? 'pending (for how long is unknown: no time column)' : `pending for ${formatDuration(m.ageMs)}`]
    if (m.attempts !== null) parts.push(`${m.attempts} attempt${m.attempts === 1 ? '' : 's'}`)
    if (m.lastError) parts.push(`last error ${clip(m.lastError)}`)
    return {state: 'stuck', text: `stuck: ${parts.join(', ')}`, repair: [`msgops reconcile --check message_stuck --fix${since(m.ageMs)}`]}
  }
  if (m.state === 'other') return {state: 'unknown', text: `unknown: the outbox row has status ${m.status}, none of the configured pending, sent and dead-letter`, repair: []}
  if (f.inbox === null) return {state: 'unknown', text: 'unknown: sent, but there is no inbox table to tell whether it was consumed', repair: []}
  const records = f.inbox.filter((r) => r.messageId === m.id)
  const letter = f.dlq.found.find((d) => d.messageId === m.id)
  const replay = letter ? [`msgops dlq replay ${sh(letter.queue)} --message-id ${sh(m.id)}`] : []
  const inLetter = letter ? `; found in ${letter.queue}: ${letter.reason} by ${letter.from}` : ''
  const failed = records.find((r) => r.state === 'failed')
  if (failed)
    return {state: 'consume_failed', text: `consume failed: ${who(failed)} recorded it failed${failed.lastError ? ` (${clip(failed.lastError)})` : ''}, ${consumers(records)}${inLetter}`, repair: replay}
  const waiting = records.find((r) => r.state === 'received')
  if (waiting) {
    if (waiting.ageMs !== null && waiting.ageMs < f.graceMs) return {state: 'in_flight', text: `in flight: received by ${who(waiting)} ${formatDuration(waiting.ageMs)} ago, not processed yet`, repair: []}
    return {state: 'consume_failed', text: `consume failed: received by ${who(waiting)}${waiting.ageMs === null ? '' : ` ${formatDuration(waiting.ageMs)} ago`} but never processed${inLetter}`, repair: replay}
  }
  const other = records.find((r) => r.state === 'other')
  if (other) return {state: 'unknown', text: `unknown: ${who(other)} recorded status ${other.status}, none of the configured inbox statuses`, repair: []}
  if (records.length > 0) return {state: 'consistent', text: `consumed by ${records.length} of ${records.length} consumer${records.length === 1 ? '' : 's'}`, repair: []}
  const age = m.sentAgeMs ?? m.ageMs
  const sent = m.sentAgeMs === null ? 'sent' : `sent ${formatDuration(m.sentAgeMs)} ago`
  if (letter)
    return {state: 'dead_lettered', text: `${sent} but no consumer recorded it; found in ${letter.queue}: ${letter.reason} by ${letter.from}${letter.at ? ` at ${letter.at.slice(11, 19)}Z` : ''}`, repair: replay}
  if (age !== null && age < f.graceMs) return {state: 'in_flight', text: `in flight: ${sent}, not consumed yet (within the grace period ${formatDuration(f.graceMs)})`, repair: []}
  return {
    state: 'not_consumed',
    text: `${sent} but no consumer recorded it; ${dlqWords(f.dlq)}`,
    repair: [`msgops reconcile --check sent_not_consumed --fix${since(m.ageMs)}`, 'msgops outbox drain'],
  }
}

function cacheVerdict(f: VerdictFacts, orderId: string | undefined, consumed: string): Decision {
  const c = f.cache
  const fix = [`msgops reconcile --check cache_drift --fix${since(f.order?.ageMs ?? null)}`]
  if (!f.order || c.state === 'unknown' || c.state === 'equal') {
    const cache = !f.order ? '' : c.state === 'equal' ? ', cache matches' : `, cache not compared (${c.reason ?? 'unknown'})`
    return {state: 'consistent', text: `consistent: ${consumed}${cache}`, repair: []}
  }
  if (f.order.ageMs !== null && f.order.ageMs < f.graceMs)
    return {state: 'in_flight', text: `in flight: ${consumed}; the order changed ${formatDuration(f.order.ageMs)} ago and the cache ${c.state === 'missing' ? 'has no key yet' : 'differs'}`, repair: []}
  if (c.state === 'missing') return {state: 'cache_missing', text: `cache missing: ${consumed}, but Redis has no ${c.key} for order ${orderId} (status ${c.expected})`, repair: fix}
  if (c.state === 'different') return {state: 'cache_different', text: `cache different: ${consumed}, but ${c.key} holds ${clip(c.value ?? '')} and the order ${c.expected ?? 'NULL'}`, repair: fix}
  return {state: 'cache_unreadable', text: `cache unreadable: ${consumed}, but ${c.key}: ${c.reason ?? 'cannot be read as configured'}`, repair: fix}
}

function dlqWords(dlq: VerdictFacts['dlq']): string {
  const queues = dlq.queues.join(', ')
  if (dlq.state === 'absent') return `not in ${queues} (${dlq.read} dead letter${dlq.read === 1 ? '' : 's'} read)`
  if (dlq.state === 'partial') return `not in the first ${dlq.read} messages of ${queues} (--limit)`
  return `dead-letter queues not read${dlq.why ? `: ${dlq.why}` : ''}`
}

function who(r: TraceInbox): string {
  return r.consumer ?? 'the consumer'
}

function consumers(records: TraceInbox[]): string {
  const done = records.filter((r) => r.state === 'processed').length
  return `${done} of ${records.length} consumer${records.length === 1 ? '' : 's'} processed it`
}

function attempts(m: TraceOutbox): string {
  return m.attempts === null ? '' : `${m.attempts} attempt${m.attempts === 1 ? '' : 's'}, `
}

function clip(text: string): string {
  const line = text.replaceAll(/\s+/g, ' ').trim()
  return line.length > 80 ? `${line.slice(0, 79)}…` : line
}

/**
 * The --since of a reconcile that covers a row this old: its age and a margin (a tenth, at least a minute) rounded up
 * to a whole unit (15m, 4h, 3d), so the repair reads no more than it needs; nothing when the age is unknown
 * (reconcile then reads its default window).
 */
export function since(ageMs: number | null): string {
  if (ageMs === null) return ''
  const window = ageMs * 1.1 + 60_000
  if (window <= 60 * 60_000) return ` --since ${Math.ceil(window / 60_000)}m`
  if (window <= 48 * 3_600_000) return ` --since ${Math.ceil(window / 3_600_000)}h`
  return ` --since ${Math.ceil(window / 86_400_000)}d`
}

/** A word as a shell reads it: single-quoted unless it is plain. */
export function sh(word: string): string {
  return /^[\w.:@%+,/=-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`
}
