import {z} from 'zod'

import type DlqRestore from '../../commands/dlq/restore.js'
import type InboxPrune from '../../commands/inbox/prune.js'
import type OutboxPrune from '../../commands/outbox/prune.js'
import {type Agree, count, type RunResult} from './common.js'

const dbText = z.string().nullable().describe("the basis column's value as the server stores it")

const rows = z.strictObject({
  mode: z.literal('rows'),
  kind: z.enum(['outbox', 'inbox']),
  table: z.string(),
  what: z.string().describe('what goes, in words: the status, the basis column and the cut'),
  basis: z.string().describe('the column that tells the age'),
  dryRun: z.boolean(),
  eligible: z.strictObject({rows: count, oldest: dbText, newest: dbText}).describe('rows that met the condition at the start'),
  deleted: count,
  archived: count.describe('lines written and fsynced to the archive, each before its chunk\'s DELETE committed'),
  archive: z.string().optional(),
  kept: count.describe('candidates that no longer met the condition when their chunk came (requeued, drained): kept'),
  chunks: count,
  chunkSize: z.strictObject({first: count, last: count, smallest: count, largest: count}),
  elapsedMs: z.number().nonnegative(),
  rowsPerSecond: z.number().nonnegative(),
  pauses: z.strictObject({count, ms: z.number().nonnegative(), reasons: z.record(z.string(), count)}).describe('waits on server load or replica lag'),
  pace: z.strictObject({mode: z.enum(['auto', 'full', 'polite']), politeChunks: count, fullChunks: count}).describe('--pace, and how many chunks ran polite (short, each followed by a pause) and at full speed'),
  stoppedBy: z.enum(['limit', 'until', 'interrupted']).optional(),
  interrupted: z.boolean(),
  cancelled: z.boolean().optional(),
  warnings: z.array(z.string()),
})

const partitions = z.strictObject({
  mode: z.literal('partitions'),
  table: z.string(),
  column: z.string(),
  cut: z.string(),
  dryRun: z.boolean(),
  decisions: z.array(z.union([
    z.strictObject({name: z.string(), action: z.literal('drop'), bound: z.string().nullable(), rows: count}),
    z.strictObject({name: z.string(), action: z.literal('keep'), why: z.enum(['catch-all', 'too young', 'last', 'rows must stay']), mustStay: count.optional(), bound: z.string().nullable(), rows: count}),
  ])),
  dropped: z.array(z.string()),
  droppedRows: count.describe("the statistics' estimate of the rows the dropped partitions held"),
  refused: count.describe('older partitions kept because a row in them must stay (exit 1)'),
  added: z.array(z.string()),
  elapsedMs: z.number().nonnegative(),
  warnings: z.array(z.string()),
})

export const pruneOutput = z.union([rows, partitions])

export const dlqRestoreOutput = z.strictObject({
  file: z.string(),
  ledger: z.string().describe('the side file that marks lines restored, so that a second run publishes each once'),
  dryRun: z.boolean(),
  lines: count,
  alreadyRestored: count,
  restored: count,
  failed: count,
  left: count.describe('lines that did not match the filters'),
  noTarget: count,
  invalid: count,
  inDoubt: z.array(z.number().int()).describe('lines an earlier run was publishing when it stopped: published again (at most one batch)'),
  targets: z.array(z.strictObject({exchange: z.string(), routingKey: z.string(), count})),
  failures: z.array(z.strictObject({line: z.number().int(), messageId: z.string().optional(), error: z.string()})),
  interrupted: z.boolean(),
  cancelled: z.boolean().optional(),
})

true satisfies Agree<z.output<typeof pruneOutput>, RunResult<typeof OutboxPrune>>
true satisfies Agree<z.output<typeof pruneOutput>, RunResult<typeof InboxPrune>>
true satisfies Agree<z.output<typeof dlqRestoreOutput>, RunResult<typeof DlqRestore>>
