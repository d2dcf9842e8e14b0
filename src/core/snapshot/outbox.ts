import type {Config} from '../../config/schema.js'
import type {OutboxMapping} from '../mapping.js'
import {outboxStatus} from '../outbox/status.js'
import type {SqlExecutor, SqlPort} from '../ports.js'
import {topFailureGroups} from './failures.js'
import type {OutboxFigures} from './model.js'

/** Dead-letter rows read for the failure groups: the newest ones, so that a huge dead-letter backlog costs the same. */
export const FAILURE_SAMPLE = 1000
export const TOP_FAILURE_GROUPS = 5

/**
 * The outbox part: `outbox status`'s own figures (counts exact up to COUNT_CAP then estimated, oldest pending age,
 * stuck rows, sends in the last minute) without its attempts and event types, and the top failure groups of the
 * newest dead-letter rows, on the (status, created_at) index.
 */
export async function readOutbox(sql: SqlExecutor, config: Config, table: OutboxMapping, stuckAfterMs: number): Promise<OutboxFigures> {
  // outboxStatus never opens a transaction: a plain executor is all it uses.
  const status = await outboxStatus(sql as SqlPort, {config, table, stuckAfterMs, skip: ['attempts', 'topEventTypes']})
  let failureGroups: OutboxFigures['failureGroups'] = null
  let failureGroupsOf = 0
  const {t, c} = table
  if (c.lastError) {
    const order = c.createdAt ? `ORDER BY ${c.createdAt} DESC` : ''
    const rows = await sql.query<{e: unknown}>(`SELECT LEFT(${c.lastError}, 300) AS e FROM ${t} WHERE ${c.status} = ? ${order} LIMIT ?`, [table.statuses.deadLetter, FAILURE_SAMPLE])
    failureGroupsOf = rows.length
    failureGroups = topFailureGroups(rows.map((r) => (r.e === null || r.e === undefined ? null : String(r.e))), TOP_FAILURE_GROUPS)
  }
  return {
    table: status.table,
    counts: status.counts,
    approximate: status.approximate.filter((a) => !a.startsWith('sent ') || a === 'sent 1m'),
    oldestPendingAgeMs: status.oldestPendingAgeMs,
    stuck: status.stuck,
    stuckAfterMs,
    sentLastMinute: status.sentRecently?.['1m'] ?? null,
    failureGroups,
    failureGroupsOf,
  }
}
