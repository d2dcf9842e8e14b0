import {z} from 'zod'

import type OutboxDiscard from '../../commands/outbox/discard.js'
import type OutboxDrain from '../../commands/outbox/drain.js'
import type OutboxEdit from '../../commands/outbox/edit.js'
import type OutboxFailures from '../../commands/outbox/failures.js'
import type OutboxList from '../../commands/outbox/list.js'
import type OutboxRequeue from '../../commands/outbox/requeue.js'
import type OutboxShow from '../../commands/outbox/show.js'
import type OutboxStatus from '../../commands/outbox/status.js'
import {type Agree, ageMs, count, ms, notFound, type RunResult, statusValue} from './common.js'

const failureGroup = z.strictObject({
  fingerprint: z.string().regex(/^[0-9a-f]{8}$/).describe('what --group takes'),
  count, failed: count.describe('pending rows with attempts'), deadLetter: count,
  firstSeen: z.string().nullable().describe('created_at of its oldest row, ISO 8601; null without a time column'),
  lastSeen: z.string().nullable(),
  eventTypes: z.array(z.string()),
  pattern: z.string().describe('the error with its varying parts removed'),
  sampleError: z.string().nullable(),
  sampleIds: z.array(z.string()),
})

/** A failure group about to be acted on (requeue --group, discard). */
const groupPlan = {
  group: z.string(), matching: count, pattern: z.string().nullable(), sampleError: z.string().nullable(), eventTypes: z.array(z.string()), sampleIds: z.array(z.string()),
  window: z.strictObject({since: z.string().nullable(), until: z.string().nullable()}),
}

export const outboxFailuresOutput = z.strictObject({
  table: z.string(),
  basis: z.enum(['error and event type', 'event type only', 'error only', 'nothing']).describe('what the fingerprint is made of on this table'),
  scanned: count,
  total: z.strictObject({failed: count, deadLetter: count}),
  groups: z.array(failureGroup).describe('largest first'),
  ungrouped: count.describe('rows past the number of groups kept: counted in total, in no group'),
  limited: z.boolean().describe('the scan stopped at --limit rows'),
  window: z.strictObject({since: z.string().nullable(), until: z.string().nullable()}),
  notes: z.array(z.string()),
})

export const outboxDiscardOutput = z.strictObject({
  ...groupPlan,
  dryRun: z.boolean(), cancelled: z.boolean(), interrupted: z.boolean(),
  archive: z.string().nullable().describe('the archive file; null with --without-archive'),
  archived: count.describe('rows written to the archive and flushed before their delete committed'),
  discarded: count,
})

const edited = z.strictObject({payload: z.unknown(), headers: z.record(z.string(), z.unknown()).nullable()})
export const outboxEditOutput = z.strictObject({
  id: z.string(), unchanged: z.boolean(), cancelled: z.boolean(), previousStatus: z.string(), attempts: count.nullable(), before: edited, after: edited,
})

const status = z.string().describe('pending, sent or dead-letter; the raw value for a status the configuration does not name')

export const outboxStatusOutput = z.strictObject({
  table: z.string().describe('the outbox table'),
  counts: z.record(z.string(), count).describe('rows per status by name (pending, sent, dead-letter, or the raw value of an unknown status); see approximate'),
  statusValues: z.strictObject({pending: statusValue, sent: statusValue, deadLetter: statusValue}).describe('the configured value of each status'),
  total: count,
  oldestPendingAgeMs: z
    .number()
    .int()
    .nullable()
    .describe("age of the oldest pending row, in milliseconds by the database's clock (negative when created in the future); null when there is no pending row or no time column"),
  stuckAfterMs: ms('pending rows older than this count as stuck (--stuck-after)'),
  stuck: count.nullable().describe('pending rows older than stuckAfterMs; null when the table has no time column'),
  attempts: z.record(z.string(), count).nullable().describe('failed attempts of pending and dead-letter rows: bucket (0, 1, 2, 3-5, 6-9, 10+) to rows; null without an attempts column'),
  sentRecently: z.strictObject({'1m': count, '5m': count, '1h': count}).nullable().describe('rows sent in the last minute, 5 minutes and hour; null without a sent-at column'),
  sentBasis: z.enum(['sent_at', 'created_at']).nullable().describe('what sentRecently counts by: sent_at when it has an index, else created_at of rows now sent'),
  approximate: z.array(z.string()).describe('figures past the count cap: a status name (estimated from table statistics), or "sent 1m"/"sent 5m"/"sent 1h", "stuck" or "≥" and a status name (a lower bound)'),
  topEventTypes: z.array(z.strictObject({eventType: z.string(), count})).nullable().describe('event types of pending rows, most first; null without an event type column'),
  alerts: z.array(z.string()).describe('--fail-if-* thresholds breached; non-empty means exit 1'),
  notes: z.array(z.string()).describe('what the report could not tell, and why'),
  topFailures: z.strictObject({groups: z.array(failureGroup), limited: z.boolean().describe('more failed rows than were read for it')}).optional().describe('the 3 largest failure groups'),
  size: z.strictObject({rows: count, dataBytes: count, indexBytes: count}).nullable().optional().describe('rows and bytes from the table statistics'),
  prunable: z.strictObject({
    retention: z.string(), retentionMs: z.number(), rows: count, capped: z.boolean().describe('more than the cap: rows is a lower bound'), basis: z.string(),
  }).nullable().optional().describe('sent rows older than outbox.retention: what outbox prune would delete; null without a time column'),
})

export const outboxListOutput = z.strictObject({
  rows: z.array(
    z.strictObject({
      id: z.string().describe('the row id, which is its message id'),
      status,
      attempts: count.nullable().describe('failed attempts; null without an attempts column'),
      ageMs: ageMs('time since created_at'),
      eventType: z.string().nullable(),
      aggregateId: z.string().nullable(),
      exchange: z.string().nullable().describe("the row's exchange, or outbox.exchange when it has none"),
      routingKey: z.string().nullable().describe("the row's routing key, or outbox.routingKey when it has none"),
      lastError: z.string().nullable(),
    }),
  ),
  next: z.string().nullable().describe('the --after value of the next page; null when this page was the last'),
})

export const outboxShowOutput = z.union([
  z.strictObject({
    id: z.string(),
    status,
    ageMs: ageMs('time since created_at'),
    columns: z.record(z.string(), z.unknown()).describe("every column of the row by its real name: JSON columns parsed, dates as ISO 8601 text"),
    payload: z.unknown().describe('the payload column, parsed when it holds JSON'),
  }),
  notFound,
])

export const outboxDrainOutput = z.strictObject({
  dryRun: z.boolean(),
  cancelled: z.boolean().describe('the person declined the confirmation: nothing was published'),
  interrupted: z.boolean().describe('a signal or a lost lock stopped the run between batches'),
  eligible: count.describe('pending rows old enough when the run began (capped by --limit)'),
  published: count.describe('confirmed by the broker and not returned: now sent'),
  returned: count.describe('unroutable (mandatory): attempts + 1'),
  nacked: count.describe('refused by the broker: attempts + 1'),
  invalid: count.describe('could not be published at all (no exchange, a header over AMQP limits): attempts + 1'),
  deadLettered: count.describe('failed rows that reached --max-attempts in this run'),
  remaining: count.describe('pending rows old enough still there at the end'),
  batches: count,
  skipLocked: z.boolean().describe('the server supports FOR UPDATE SKIP LOCKED'),
  elapsedMs: ms('time the run took'),
  rate: z.number().nonnegative().describe('published rows per second over the run'),
  failures: z
    .array(z.strictObject({id: z.string(), outcome: z.enum(['returned', 'nacked', 'invalid']), reason: z.string(), deadLettered: z.boolean()}))
    .describe('the first failures (at most 20)'),
  sample: z
    .array(
      z.strictObject({
        id: z.string(),
        eventType: z.string().nullable(),
        exchange: z.string(),
        routingKey: z.string(),
        attempts: count.nullable(),
        ageMs: ageMs('time since created_at'),
      }),
    )
    .describe('dry run: the first rows that would be published'),
  notes: z.array(z.string()).describe('what the operator should know (no SKIP LOCKED, no attempts or time column, rows in the future)'),
  idle: z
    .strictObject({
      reason: z.string(),
      pending: count,
      younger: count.describe('pending rows younger than --older-than'),
      notAvailable: count.describe('pending rows old enough whose available_at is in the future'),
    })
    .nullable()
    .describe('set when no row was eligible: why'),
})

const requeueReport = z.strictObject({
  dryRun: z.boolean(),
  cancelled: z.boolean().describe('the person declined the confirmation: nothing was changed'),
  interrupted: z.boolean(),
  matching: count.describe('dead-letter rows that matched the filters'),
  requeued: count.describe('rows set back to pending with their attempts reset'),
  sample: z.array(
    z.strictObject({id: z.string(), eventType: z.string().nullable(), attempts: count.nullable(), ageMs: ageMs('time since created_at'), lastError: z.string().nullable()}),
  ),
})

export const outboxRequeueOutput = z.union([
  requeueReport,
  z.strictObject({...groupPlan, dryRun: z.boolean(), cancelled: z.boolean(), interrupted: z.boolean(), requeued: count}).describe('--group: the group\'s dead-letter rows back to pending'),
])

// Compile-time: each schema describes exactly what its command's run() returns.
true satisfies Agree<z.output<typeof outboxStatusOutput>, RunResult<typeof OutboxStatus>>
true satisfies Agree<z.output<typeof outboxListOutput>, RunResult<typeof OutboxList>>
true satisfies Agree<z.output<typeof outboxShowOutput>, RunResult<typeof OutboxShow>>
true satisfies Agree<z.output<typeof outboxDrainOutput>, RunResult<typeof OutboxDrain>>
true satisfies Agree<z.output<typeof outboxRequeueOutput>, RunResult<typeof OutboxRequeue>>
true satisfies Agree<z.output<typeof outboxFailuresOutput>, RunResult<typeof OutboxFailures>>
true satisfies Agree<z.output<typeof outboxDiscardOutput>, RunResult<typeof OutboxDiscard>>
true satisfies Agree<z.output<typeof outboxEditOutput>, RunResult<typeof OutboxEdit>>
