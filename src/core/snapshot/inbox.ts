import {COUNT_CAP} from '../outbox/status.js'
import type {InboxMapping} from '../mapping.js'
import type {SqlExecutor} from '../ports.js'
import type {InboxFigures} from './model.js'

/** Records whose lag is measured: the newest, on the received-at index. */
export const LAG_SAMPLE = 1000

/** The value at rank ceil(p·n) of sorted values (nearest rank); 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length))) - 1]
}

/**
 * The inbox part: records received in the last minute and failed records (both bounded index ranges, capped at
 * COUNT_CAP), and the processing lag (received → processed) over the newest `sample` records that are processed.
 */
export async function readInbox(sql: SqlExecutor, table: InboxMapping, sample = LAG_SAMPLE): Promise<InboxFigures> {
  const {t, c} = table
  const capped = (where: string) => `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${t} WHERE ${where} LIMIT ${COUNT_CAP + 1}) AS capped`
  const [received, failed, lagRows] = await Promise.all([
    sql.query<{n: unknown}>(capped(`${c.receivedAt} >= NOW(3) - INTERVAL 60 SECOND`)),
    sql.query<{n: unknown}>(capped(`${c.status} = ?`), [table.statuses.failed]),
    c.processedAt ? newestLags(sql, table, c.processedAt, sample) : Promise.resolve(null),
  ])
  const failedCount = Number(failed[0]?.n ?? 0)
  let lag: InboxFigures['lag'] = null
  if (lagRows) {
    const values = lagRows.map((r) => Math.max(0, Number(r.lag))).sort((a, b) => a - b)
    lag = {p50Ms: percentile(values, 0.5), p99Ms: percentile(values, 0.99), of: values.length}
  }
  return {
    table: table.name,
    receivedLastMinute: Math.min(Number(received[0]?.n ?? 0), COUNT_CAP),
    failed: Math.min(failedCount, COUNT_CAP),
    failedApproximate: failedCount > COUNT_CAP,
    lag,
  }
}

/**
 * Received → processed of the newest `sample` records that are processed. The received-at of the sample-th newest
 * record comes first, from the index alone; then the records since it are a bounded range (one ORDER BY … LIMIT over
 * the rows themselves makes the optimizer sort the whole table).
 */
async function newestLags(sql: SqlExecutor, table: InboxMapping, processedAt: string, sample: number): Promise<{lag: unknown}[]> {
  const {t, c} = table
  const [edge] = await sql.query<{r: unknown}>(`SELECT ${c.receivedAt} AS r FROM ${t} ORDER BY ${c.receivedAt} DESC LIMIT 1 OFFSET ?`, [sample - 1])
  const since = edge ? `WHERE ${c.receivedAt} >= ? AND` : 'WHERE'
  return sql.query<{lag: unknown}>(
    `SELECT TIMESTAMPDIFF(MICROSECOND, ${c.receivedAt}, ${processedAt}) DIV 1000 AS lag FROM ${t} ${since} ${processedAt} IS NOT NULL ORDER BY ${c.receivedAt} DESC LIMIT ?`,
    edge ? [edge.r, sample] : [sample],
  )
}
