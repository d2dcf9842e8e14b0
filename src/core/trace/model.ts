/** What `msgops trace` reports about one id: the shapes of its --json output. */

/** What the id turned out to be: an order id, a message (outbox) id, or nothing msgops can find. */
export type IdKind = 'order' | 'message' | 'none'

/** A column the mapping does not have is listed in `unknown`; its value is null and shown as unknown, never guessed. */
export interface TraceOrder {
  id: string
  /** As stored, as text (an integer status too); null when NULL or not mapped. */
  status: string | null
  messageId: string | null
  createdAt: string | null
  updatedAt: string | null
  /** Milliseconds since the last update (else the creation), by the server's clock; null when unknown. */
  ageMs: number | null
  unknown: string[]
}

export type OutboxState = 'pending' | 'sent' | 'dead-letter' | 'other'

export interface TraceOutbox {
  id: string
  state: OutboxState
  /** The status as stored. */
  status: string
  aggregateId: string | null
  eventType: string | null
  exchange: string | null
  routingKey: string | null
  attempts: number | null
  lastError: string | null
  createdAt: string | null
  availableAt: string | null
  sentAt: string | null
  /** Milliseconds since created; null without a time column. */
  ageMs: number | null
  /** Milliseconds since sent; null when not sent or without a sent time. */
  sentAgeMs: number | null
  unknown: string[]
}

export type InboxState = 'processed' | 'failed' | 'received' | 'other'

export interface TraceInbox {
  messageId: string
  /** Null when the inbox has no consumer column (one consumer). */
  consumer: string | null
  state: InboxState
  status: string
  attempts: number | null
  lastError: string | null
  receivedAt: string | null
  processedAt: string | null
  /** Milliseconds since received. */
  ageMs: number | null
  unknown: string[]
}

export interface TraceAudit {
  auditId: string
  at: string
  command: string
  /** What the run did to this id (drain, drain:returned, requeue, replay, reconcile:cache_drift…). */
  action: string
  /** The id it was recorded for (the order's or one of its messages'). */
  about: string
  exitCode: number
  osUser: string
  host: string
  /** False: the run touched more ids than it recorded, so it may or may not have touched this one. */
  recorded: boolean
}

export type CacheState = 'equal' | 'missing' | 'different' | 'unreadable' | 'unknown'

export interface TraceCache {
  state: CacheState
  key: string | null
  value: string | null
  /** The order's status, which the cache should hold. */
  expected: string | null
  /** Why it is unreadable or unknown. */
  reason?: string
}

export interface QueueFigures {
  queue: string
  messages: number
  consumers: number
}

/** A dead letter found holding a traced message (read with hold-and-return: it is still in its queue). */
export interface DeadLetterFound {
  messageId: string
  queue: string
  /** The first death: why and where. */
  reason: string
  from: string
  /** Newest death time (second precision), when the message says. */
  at: string | null
  deaths: number
  error: string | null
}

export type DlqState = 'found' | 'absent' | 'partial' | 'not_read'

export interface TraceBroker {
  /** The queues the messages are routed to (management API), or null when unknown. */
  queues: QueueFigures[] | null
  /** Dead-letter queues considered. */
  deadLetterQueues: string[]
  dlq: {state: DlqState; why?: string; read: number; found: DeadLetterFound[]}
  notes: string[]
}

export interface TimelineEvent {
  /** ISO 8601; null when the step has no time (shown last, in the order of the pipeline). */
  at: string | null
  event: 'committed' | 'order updated' | 'audit' | 'sent' | 'dead-lettered' | 'received' | 'consumed' | 'consume failed' | 'cached'
  detail: string
}

export type TraceState =
  | 'consistent'
  | 'in_flight'
  | 'no_message'
  | 'no_order'
  | 'dead_letter'
  | 'stuck'
  | 'dead_lettered'
  | 'not_consumed'
  | 'consume_failed'
  | 'cache_missing'
  | 'cache_different'
  | 'cache_unreadable'
  | 'unknown'
  | 'not_found'

export interface Verdict {
  state: TraceState
  text: string
}

export interface Trace {
  id: string
  kind: IdKind
  order: TraceOrder | null
  outbox: TraceOutbox[]
  audit: TraceAudit[]
  inbox: TraceInbox[]
  cache: TraceCache
  broker: TraceBroker
  timeline: TimelineEvent[]
  verdict: Verdict
  repair: string[]
  /** What the schema or the services did not let trace know. */
  notes: string[]
}

/** Healthy states: exit 0. */
export const HEALTHY: ReadonlySet<TraceState> = new Set(['consistent', 'in_flight'])
