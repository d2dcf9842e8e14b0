import {z} from 'zod'

import type Reconcile from '../../commands/reconcile/index.js'
import type ReconcileMerge from '../../commands/reconcile/merge.js'
import {CHECKS} from '../../core/reconcile/checks.js'
import {FIXABLE} from '../../core/reconcile/fix.js'
import {type Agree, count, dbTime, durationText, keyedPartial, ms, type RunResult} from './common.js'

const checkResult = z.strictObject({
  count: count.describe('findings; 0 when the check was skipped'),
  oldest: dbTime('time of the oldest finding').nullable().describe('time of the oldest finding (database time); null when none, or the table has no time column'),
  samples: z
    .array(
      z.strictObject({
        id: z.string().describe('the order id or message id found'),
        at: dbTime("the row's time").nullable().describe("the row's time (database time); null when the table has none"),
        detail: z.string().optional().describe('what is wrong with it, when useful: status=failed consumer=billing, attempts=3, no outbox row, how the cache differs'),
      }),
    )
    .describe('the oldest findings, at most --sample'),
  skipped: z.string().optional().describe('why the check could not run on this schema'),
})

const fixResult = z.strictObject({
  action: z.string().describe('what the fix does (or would do)'),
  fixed: count.describe('rows or keys changed; with --dry-run, how many would be'),
  notFixed: count.describe('rows or keys found again but not changed (a drain that failed, a key already gone)'),
  note: z.string().optional().describe('why the findings were not fixed (no --fix-dead, stopped by an error)'),
  ids: z.array(z.string()).describe('the first ids fixed'),
})

const keyRange = z
  .strictObject({
    after: z.string().nullable().describe('the range starts after this key (exclusive); null: at the lowest'),
    upTo: z.string().nullable().describe('the range ends at this key (inclusive); null: at the highest'),
    nulls: z.boolean().describe('rows whose key is NULL belong to this range (the first part)'),
    numeric: z.boolean().optional().describe('the keys are integers, compared as numbers'),
  })
  .describe('a key range (after, upTo]')

const keyRanges = z
  .strictObject({
    orders: keyRange.optional().describe('of orders.id: cache_drift, and order_without_message when not merged'),
    outbox: keyRange.optional().describe('of outbox.id (and of orders.messageId for a merged order_without_message): message_stuck, message_dead, sent_not_consumed'),
    inbox: keyRange.optional().describe('of inbox.messageId: consumed_failed, orphan_consumed (the outbox\'s when their keys compare alike)'),
  })
  .describe('the key range of each table a check starts from')

const runFields = {
  part: z
    .strictObject({
      index: z.number().int().min(1).describe('this part, 1-based'),
      count: z.number().int().min(1).describe('the parts of the run'),
      run: z.string().describe('the run whose window and cuts the parts share: reconcile merge joins parts of one run only'),
      ranges: keyRanges,
    })
    .optional()
    .describe('with --part or --parts: which part this is; its findings are those of its key ranges'),
  chunks: z.strictObject({read: count.describe('chunks read by this run'), resumed: count.describe('chunks of an interrupted run taken from its checkpoint (--resume)')}).optional(),
  replica: z
    .strictObject({
      url: z.string().describe('the replica read (password masked)'),
      lagS: z.number().nonnegative().describe('its lag when the run started, in seconds'),
      widenedMs: ms('how far the grace was widened for the lag'),
      late: count.describe('candidates found on the replica that the primary did not confirm (not reported)'),
    })
    .optional()
    .describe('when the scans read a replica'),
  pausedMs: ms('time paused on --max-load or --max-lag').optional(),
}

const window = z.strictObject({
  since: dbTime('start of the window'),
  until: dbTime('end of the window (exclusive)').nullable().describe('end of the window (exclusive, database time); null: up to now'),
  grace: durationText('rows younger than this are never flagged (--grace)'),
  cutoff: dbTime('rows at or before this time are past the grace period (widened by a replica\'s lag)'),
  now: dbTime("the database's NOW(3) when the run started"),
})

const fixes = z
  .strictObject({
    dryRun: z.boolean(),
    interrupted: z.boolean(),
    checks: keyedPartial(FIXABLE, fixResult).describe('one result per fixable check with findings'),
  })
  .optional()
  .describe('with --fix (also --dry-run): what was repaired; absent when nothing was fixable or the confirmation was declined')

export const reconcileOutput = z.strictObject({
  window,
  checks: keyedPartial(CHECKS, checkResult).describe('one result per check run (--check), by check name'),
  merged: z.array(z.enum(CHECKS)).describe('the checks answered by the merge plan; the others by one index lookup per row'),
  total: count.describe('findings over every check'),
  durationMs: ms('time the scan took'),
  ...runFields,
  fixes,
})

export const reconcileMergeOutput = z.strictObject({
  window,
  checks: keyedPartial(CHECKS, checkResult).describe("the whole run's result per check: the parts' counts added, the oldest samples of all"),
  merged: z.array(z.enum(CHECKS)).describe('the checks any part answered by the merge plan'),
  total: count.describe('findings over every check and part'),
  durationMs: ms('the longest part'),
  pausedMs: ms('time the parts paused on load or replica lag, added up').optional(),
  run: z.string().describe('the run the parts belong to'),
  parts: z
    .array(
      z.strictObject({
        index: z.number().int().min(1),
        count: z.number().int().min(1),
        file: z.string().describe('the file the part was read from'),
        total: count.describe("the part's findings"),
        durationMs: ms("the part's duration"),
      }),
    )
    .describe('the parts, by index'),
  fixes,
})

// Compile-time: the schema describes exactly what reconcile's run() returns.
true satisfies Agree<z.output<typeof reconcileOutput>, RunResult<typeof Reconcile>>
true satisfies Agree<z.output<typeof reconcileMergeOutput>, RunResult<typeof ReconcileMerge>>
