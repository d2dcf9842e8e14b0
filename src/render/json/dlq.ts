import {z} from 'zod'

import type DlqInspect from '../../commands/dlq/inspect.js'
import type DlqPurge from '../../commands/dlq/purge.js'
import type DlqReplay from '../../commands/dlq/replay.js'
import {type Agree, count, isoTime, ms, type RunResult} from './common.js'

const group = z
  .string()
  .regex(/^[0-9a-f]{8}$/)
  .describe('the failure group: 8 hex characters of first death reason, queue, exchange, routing key and error (what dlq replay --group takes)')
const reason = z.string().describe('the first death reason from x-death: rejected, expired, maxlen, delivery_limit; none without x-death')
const target = z.strictObject({exchange: z.string().describe('empty: the default exchange (--to-queue)'), routingKey: z.string()})
const item = {messageId: z.string().optional(), group, reason}
const depth = count.describe('messages in the queue when the run began')
const read = count.describe('messages read: at most the depth, less when --limit stopped it or other consumers took some')
const dryRun = z.boolean().describe('true with --dry-run (nothing was moved or removed)')
const cancelled = z.boolean().optional().describe('present and true when the person declined the confirmation: nothing was read')

export const dlqInspectOutput = z.strictObject({
  queue: z.string(),
  depth,
  consumers: count,
  read,
  complete: z.boolean().describe('every message of the queue was read'),
  groups: z
    .array(
      z.strictObject({
        key: group,
        fingerprint: z.string().regex(/^[0-9a-f]{8}$/).describe('the failure fingerprint (the error\'s pattern, routing key, reason and queue): the same failure as outbox failures shows, what --group takes too'),
        count,
        oldest: isoTime('death time of the message of the group that died longest ago').optional(),
        newest: isoTime('death time of the message of the group that died last').optional(),
        reason,
        queue: z.string().describe('the queue the messages first died in'),
        exchange: z.string().optional().describe('the exchange they were first published to'),
        routingKey: z.string().optional(),
        error: z.string().optional().describe('the error header (dlq.errorHeaders, --error-header)'),
      }),
    )
    .describe('most messages first'),
  samples: z
    .array(
      z.strictObject({
        ...item,
        routingKey: z.string().optional(),
        diedAt: isoTime('when it last died (its newest x-death time)').optional(),
        deaths: count.describe('deaths over every x-death entry'),
        replayCount: count.describe('x-msgops-replay-count: how often msgops replayed it'),
        redelivered: z.boolean(),
        headers: z.record(z.string(), z.unknown()).describe('the AMQP headers as JSON (byte strings as text, timestamps as ISO 8601)'),
        body: z.string().describe('the body cut to --body-chars, in bodyEncoding'),
        bodyEncoding: z.enum(['utf8', 'base64']),
        bodyBytes: count.describe('size of the whole body in bytes'),
        truncated: z.boolean(),
      }),
    )
    .describe('--sample N: the first N messages read'),
  interrupted: z.boolean(),
})

const replayReport = z.strictObject({
  queue: z.string(),
  depth,
  read,
  dryRun,
  moved: count.describe('published, confirmed, not returned, and acked (in a dry run: would be)'),
  failed: count.describe('returned (unroutable), nacked, unanswered or unpublishable: left in the queue'),
  skipped: count.describe('matched but not moved (at --max-replays, or nowhere to send it): left in the queue'),
  left: count.describe('did not match the filters: left in the queue'),
  targets: z.array(target.extend({count})).describe('where the moved messages went'),
  failures: z.array(z.strictObject({...item, target, error: z.string()})).describe('the first failures (at most 100)'),
  skips: z.array(z.strictObject({...item, why: z.string().describe('max-replays or no-target'), replayCount: count})).describe('the first skips (at most 100)'),
  elapsedMs: ms('time from the first read to the last ack'),
  stoppedBy: z.string().optional().describe('why it stopped early (the channel died, confirms timed out): it then exits 2'),
  interrupted: z.boolean(),
  cancelled,
})

/** --edit of one message: what happened to the original and to its edited copy. */
const editReport = z.strictObject({
  queue: z.string(),
  messageId: z.string(),
  publishedAs: z.string().optional().describe('the message id of the edited copy'),
  read: count,
  depth,
  step: z.enum(['not-found', 'unchanged', 'cancelled', 'failed', 'published', 'acked']).describe('acked: the copy was confirmed, then the original acked; published: the copy went out but the original is still in the queue (see detail)'),
  target: target.optional(),
  group: z.string().optional(),
  fingerprint: z.string().optional(),
  detail: z.string().optional(),
})

export const dlqReplayOutput = z.union([replayReport, editReport])

export const dlqPurgeOutput = z.strictObject({
  queue: z.string(),
  depth,
  read,
  dryRun,
  purged: count.describe('acked, i.e. removed from the queue (in a dry run: would be)'),
  archived: count.describe('lines written and flushed to the archive before their messages were acked'),
  archive: z.string().optional().describe('the archive file (--archive)'),
  left: count.describe('did not match the filters: returned to the queue'),
  interrupted: z.boolean(),
  cancelled,
})

// Compile-time: each schema describes exactly what its command's run() returns.
true satisfies Agree<z.output<typeof dlqInspectOutput>, RunResult<typeof DlqInspect>>
true satisfies Agree<z.output<typeof dlqReplayOutput>, RunResult<typeof DlqReplay>>
true satisfies Agree<z.output<typeof dlqPurgeOutput>, RunResult<typeof DlqPurge>>
