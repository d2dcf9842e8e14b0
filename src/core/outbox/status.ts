import type {Config} from '../../config/schema.js'
import type {SqlPort} from '../ports.js'
import {resolveOutbox, statusName} from './table.js'

export interface StatusOptions {
  config: Config
  /** Pending rows older than this count as stuck (default 5 min). */
  stuckAfterMs?: number
  /** How many event types to list (default 5). */
  topEventTypes?: number
  /** Thresholds that make the report fail (exit 1). */
  failIfPendingOlderThanMs?: number
  failIfDeadLetters?: number
}

export interface StatusReport {
  table: string
  /** Rows per status, by logical name (pending, sent, dead-letter, or the raw value of an unknown status). */
  counts: Record<string, number>
  /** The configured value of each status, so that integer mappings stay readable. */
  statusValues: {pending: string | number; sent: string | number; deadLetter: string | number}
  total: number
  oldestPendingAgeMs: number | null
  stuckAfterMs: number
  stuck: number
  /** Failed attempts of pending and dead-letter rows: bucket → rows; null when there is no attempts column. */
  attempts: Record<string, number> | null
  /** Sends in the last 1 m, 5 m and 1 h (rows created in the last 25 h); null without a sent-at column. */
  sentRecently: {'1m': number; '5m': number; '1h': number} | null
  topEventTypes: {eventType: string; count: number}[] | null
  /** Threshold breaches; non-empty means exit 1. */
  alerts: string[]
}

const BUCKETS = ['0', '1', '2', '3-5', '6-9', '10+'] as const

export function attemptsBucket(attempts: number): (typeof BUCKETS)[number] {
  if (attempts <= 0) return '0'
  if (attempts === 1) return '1'
  if (attempts === 2) return '2'
  if (attempts <= 5) return '3-5'
  if (attempts <= 9) return '6-9'
  return '10+'
}

/**
 * The alerts of a report, a pure decision.
 *
 * | threshold given                 | breached when                         |
 * | ------------------------------- | ------------------------------------- |
 * | --fail-if-pending-older-than D  | oldest pending row is older than D    |
 * | --fail-if-dead-letters N        | dead-letter rows >= N                 |
 * | neither                         | never                                 |
 */
export function statusAlerts(report: Pick<StatusReport, 'oldestPendingAgeMs' | 'counts'>, options: Pick<StatusOptions, 'failIfPendingOlderThanMs' | 'failIfDeadLetters'>): string[] {
  const alerts: string[] = []
  if (options.failIfPendingOlderThanMs !== undefined && report.oldestPendingAgeMs !== null && report.oldestPendingAgeMs > options.failIfPendingOlderThanMs)
    alerts.push(`the oldest pending row is ${Math.round(report.oldestPendingAgeMs / 1000)}s old (threshold ${Math.round(options.failIfPendingOlderThanMs / 1000)}s)`)
  const dead = report.counts['dead-letter'] ?? 0
  if (options.failIfDeadLetters !== undefined && dead >= options.failIfDeadLetters)
    alerts.push(`${dead} dead-letter row${dead === 1 ? '' : 's'} (threshold ${options.failIfDeadLetters})`)
  return alerts
}

/**
 * The outbox at a glance. Every query is served by the (status, created_at) index: counts walk the index,
 * the oldest pending row is one index probe, and the rest only read pending, dead-letter or recent rows.
 */
export async function outboxStatus(sql: SqlPort, options: StatusOptions): Promise<StatusReport> {
  const table = await resolveOutbox(sql, options.config)
  const {t, c, statuses} = table
  const stuckAfterMs = options.stuckAfterMs ?? 300_000

  const counts: Record<string, number> = {pending: 0, sent: 0, 'dead-letter': 0}
  let total = 0
  for (const row of await sql.query<{s: unknown; n: unknown}>(`SELECT ${c.status} AS s, COUNT(*) AS n FROM ${t} GROUP BY ${c.status}`)) {
    const name = statusName(table, row.s)
    counts[name] = (counts[name] ?? 0) + Number(row.n)
    total += Number(row.n)
  }

  const [oldest] = await sql.query<{age: unknown}>(
    `SELECT TIMESTAMPDIFF(MICROSECOND, MIN(${c.createdAt}), NOW(3)) DIV 1000 AS age FROM ${t} WHERE ${c.status} = ?`,
    [statuses.pending],
  )
  const oldestPendingAgeMs = oldest?.age === null || oldest?.age === undefined ? null : Number(oldest.age)

  const [stuckRow] = await sql.query<{n: unknown}>(
    `SELECT COUNT(*) AS n FROM ${t} WHERE ${c.status} = ? AND ${c.createdAt} <= NOW(3) - INTERVAL ? MICROSECOND`,
    [statuses.pending, stuckAfterMs * 1000],
  )

  let attempts: Record<string, number> | null = null
  if (c.attempts) {
    attempts = Object.fromEntries(BUCKETS.map((b) => [b, 0]))
    const rows = await sql.query<{a: unknown; n: unknown}>(
      `SELECT ${c.attempts} AS a, COUNT(*) AS n FROM ${t} WHERE ${c.status} IN (?) GROUP BY ${c.attempts}`,
      [[statuses.pending, statuses.deadLetter]],
    )
    for (const row of rows) attempts[attemptsBucket(Number(row.a ?? 0))] += Number(row.n)
  }

  let sentRecently: StatusReport['sentRecently'] = null
  if (c.sentAt) {
    // sent_at has no index: the created_at range (25 h) keeps this to recent rows instead of every sent row ever.
    const [row] = await sql.query<Record<string, unknown>>(
      `SELECT COALESCE(SUM(${c.sentAt} >= NOW(3) - INTERVAL 1 MINUTE), 0) AS m1, COALESCE(SUM(${c.sentAt} >= NOW(3) - INTERVAL 5 MINUTE), 0) AS m5, COUNT(*) AS h1
       FROM ${t} WHERE ${c.status} = ? AND ${c.createdAt} >= NOW(3) - INTERVAL 25 HOUR AND ${c.sentAt} >= NOW(3) - INTERVAL 1 HOUR`,
      [statuses.sent],
    )
    sentRecently = {'1m': Number(row?.m1 ?? 0), '5m': Number(row?.m5 ?? 0), '1h': Number(row?.h1 ?? 0)}
  }

  let topEventTypes: StatusReport['topEventTypes'] = null
  if (c.eventType) {
    const rows = await sql.query<{e: unknown; n: unknown}>(
      `SELECT ${c.eventType} AS e, COUNT(*) AS n FROM ${t} WHERE ${c.status} = ? GROUP BY ${c.eventType} ORDER BY n DESC, e LIMIT ?`,
      [statuses.pending, options.topEventTypes ?? 5],
    )
    topEventTypes = rows.map((r) => ({eventType: r.e === null ? '(none)' : String(r.e), count: Number(r.n)}))
  }

  const report: StatusReport = {
    table: table.name,
    counts,
    statusValues: statuses,
    total,
    oldestPendingAgeMs,
    stuckAfterMs,
    stuck: Number(stuckRow?.n ?? 0),
    attempts,
    sentRecently,
    topEventTypes,
    alerts: [],
  }
  report.alerts = statusAlerts(report, options)
  return report
}
