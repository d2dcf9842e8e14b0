import {z} from 'zod'

import type Reconcile from '../../commands/reconcile.js'
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

export const reconcileOutput = z.strictObject({
  window: z.strictObject({
    since: dbTime('start of the window'),
    until: dbTime('end of the window (exclusive)').nullable().describe('end of the window (exclusive, database time); null: up to now'),
    grace: durationText('rows younger than this are never flagged (--grace)'),
    cutoff: dbTime('rows at or before this time are past the grace period'),
    now: dbTime("the database's NOW(3) when the run started"),
  }),
  checks: keyedPartial(CHECKS, checkResult).describe('one result per check run (--check), by check name'),
  merged: z.array(z.enum(CHECKS)).describe('the checks answered by the merge plan; the others by one index lookup per row'),
  total: count.describe('findings over every check'),
  durationMs: ms('time the scan took'),
  fixes: z
    .strictObject({
      dryRun: z.boolean(),
      interrupted: z.boolean(),
      checks: keyedPartial(FIXABLE, fixResult).describe('one result per fixable check with findings'),
    })
    .optional()
    .describe('with --fix (also --dry-run): what was repaired; absent when nothing was fixable or the confirmation was declined'),
})

// Compile-time: the schema describes exactly what reconcile's run() returns.
true satisfies Agree<z.output<typeof reconcileOutput>, RunResult<typeof Reconcile>>
