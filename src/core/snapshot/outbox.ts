import type {Config} from '../../config/schema.js'
import type {OutboxMapping} from '../mapping.js'
import {outboxStatus} from '../outbox/status.js'
import type {SqlExecutor, SqlPort} from '../ports.js'
import {topFailureGroups} from './failures.js'
import type {OutboxFigures} from './model.js'

/** Dead-letter rows read for the failure groups: the newest ones, so that a huge dead-letter backlog costs the same. */
export const FAILURE_SAMPLE = 1000
export const TOP_FAILURE_GROUPS = 5

/** outbox status's figures a snapshot does not show: each is one more query (the top failure groups fingerprint up to COUNT_CAP rows). */
export const SNAPSHOT_SKIPS = ['attempts', 'topEventTypes', 'topFailures', 'size', 'prunable'] as const

/**
 * The outbox part: `outbox status`'s own figures (counts exact up to COUNT_CAP then estimated, oldest pending age,
 * stuck rows, sends in the last minute) without the ones it does not show, and beside them the top failure groups of
 * the newest dead-letter rows, on the (status, created_at) index.
 */
export async function readOutbox(sql: SqlExecutor, config: Config, table: OutboxMapping, stuckAfterMs: number): Promise<OutboxFigures> {
  // outboxStatus never opens a transaction: a plain executor is all it uses.
  const [status, failures] = await Promise.all([
    outboxStatus(sql as SqlPort, {config, table, stuckAfterMs, skip: [...SNAPSHOT_SKIPS]}),
    newestFailureGroups(sql, table),
  ])
  return {
    table: status.table,
    counts: status.counts,
    approximate: status.approximate.filter((a) => !a.startsWith('sent ') || a === 'sent 1m'),
    oldestPendingAgeMs: status.oldestPendingAgeMs,
    stuck: status.stuck,
    stuckAfterMs,
    sentLastMinute: status.sentRecently?.['1m'] ?? null,
    failureGroups: failures.groups,
    failureGroupsOf: failures.of,
  }
}

/** The top failure groups of the newest FAILURE_SAMPLE dead-letter rows; null without a last error column. */
async function newestFailureGroups(sql: SqlExecutor, table: OutboxMapping): Promise<{groups: OutboxFigures['failureGroups']; of: number}> {
  const {t, c} = table
  if (!c.lastError) return {groups: null, of: 0}
  const order = c.createdAt ? `ORDER BY ${c.createdAt} DESC` : ''
  const rows = await sql.query<{e: unknown}>(`SELECT LEFT(${c.lastError}, 300) AS e FROM ${t} WHERE ${c.status} = ? ${order} LIMIT ?`, [table.statuses.deadLetter, FAILURE_SAMPLE])
  return {groups: topFailureGroups(rows.map((r) => (r.e === null || r.e === undefined ? null : String(r.e))), TOP_FAILURE_GROUPS), of: rows.length}
}
