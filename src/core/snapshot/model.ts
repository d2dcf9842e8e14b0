/** The figures of `msgops top` and `msgops metrics serve`: one snapshot of every source, each part read on its own. */

/**
 * How a part of the snapshot came to be.
 *
 * | state       | data                    | when                                                                  |
 * | ----------- | ----------------------- | --------------------------------------------------------------------- |
 * | ok          | read now                | the source answered within its timeout                                |
 * | stale       | the last good read      | it failed or timed out now, and an earlier read succeeded             |
 * | unreachable | none                    | it failed or timed out, and no read has succeeded yet                 |
 * | absent      | none                    | there is nothing to read: the table is not there, no queue is named   |
 */
export type PartState = 'ok' | 'stale' | 'unreachable' | 'absent'

export interface Part<T> {
  state: PartState
  data: T | null
  /** When data was read (ISO 8601); null without data. */
  readAt: string | null
  /** Why it is stale, unreachable or absent: one line. */
  error?: string
  /** How long this read took, or waited until its timeout. */
  tookMs: number
}

export interface FailureGroup {
  /** The group's key (failureGroupOf the last error). */
  key: string
  count: number
  /** One last error of the group as stored, cut to 200 characters. */
  sample: string
}

export interface OutboxFigures {
  table: string
  /** Rows per status (pending, sent, dead-letter or a raw value), as `outbox status` counts them. */
  counts: Record<string, number>
  /** Past COUNT_CAP: statuses (estimated), and "≥" and a status, "sent 1m", "stuck" (lower bounds). */
  approximate: string[]
  oldestPendingAgeMs: number | null
  stuck: number | null
  stuckAfterMs: number
  /** Rows sent in the last minute; null without a sent-at column (or an index to count it by). */
  sentLastMinute: number | null
  /** The top failure groups of dead-letter rows; null without a last-error column. */
  failureGroups: FailureGroup[] | null
  /** How many dead-letter rows the groups were made of (the newest, at most FAILURE_SAMPLE). */
  failureGroupsOf: number
}

export interface QueueFigures {
  name: string
  /** A dead-letter queue: a queue that some queue's x-dead-letter-exchange routes to (or named like one). */
  deadLetter: boolean
  /** False when the queue does not exist on the broker. */
  exists: boolean
  ready: number
  /** Null where passive declares cannot tell (no management API). */
  unacked: number | null
  consumers: number
  /** Messages per second from the management API; null without it. */
  rates: {publish: number; deliver: number; ack: number} | null
  /** Cumulative counts from the management API (since the queue's stats began); null without it. */
  totals: {publish: number; deliver: number; ack: number} | null
  /** ready + unacked (ready alone without the management API). */
  messages: number
  /** Messages gained since the previous snapshot of this process; null on the first. */
  change: number | null
}

export interface BrokerFigures {
  vhost: string
  /** management: the HTTP API; amqp: passive declares only (no rates, no unacked, no alarms). */
  via: 'management' | 'amqp'
  queues: QueueFigures[]
  /** Resource alarms per node; null when they cannot be read. */
  alarms: {node: string; memory: boolean; disk: boolean}[] | null
  blockedConnections: number | null
}

export interface InboxFigures {
  table: string
  receivedLastMinute: number
  /** Failed records (capped at COUNT_CAP: then a lower bound). */
  failed: number
  failedApproximate: boolean
  /** Received → processed over the newest processed records; null without a processed-at column. */
  lag: {p50Ms: number; p99Ms: number; of: number} | null
}

export interface ReconcileRun {
  id: string
  at: string
  exitCode: number
  /** Null when the audit record does not say. */
  durationMs: number | null
  findings: Record<string, number>
  total: number
  host: string
  error?: string
}

export interface ReconcileFigures {
  /** The newest reconcile audit record, whatever its outcome. */
  last: ReconcileRun | null
  /** The newest that completed (exit 0 or 1). */
  lastSuccess: ReconcileRun | null
}

export interface HeldLockFigures {
  /** The name after `lock:` (drain, replay, reconcile, prune, …). */
  name: string
  host: string | null
  pid: number | null
  since: string | null
  command: string | null
  /** Milliseconds until it expires unless renewed; null when it has no expiry. */
  ttlMs: number | null
}

export interface LockFigures {
  locks: HeldLockFigures[]
}

export interface Snapshot {
  at: string
  tookMs: number
  outbox: Part<OutboxFigures>
  broker: Part<BrokerFigures>
  inbox: Part<InboxFigures>
  reconcile: Part<ReconcileFigures>
  locks: Part<LockFigures>
}

export const SOURCES = ['outbox', 'broker', 'inbox', 'reconcile', 'locks'] as const
export type SourceName = (typeof SOURCES)[number]
