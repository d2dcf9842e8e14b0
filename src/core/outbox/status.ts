import type {Config} from '../../config/schema.js'
import {formatDuration} from '../duration.js'
import {indexColumns, leadsIndex, tableStats} from '../introspect.js'
import type {SqlExecutor, SqlPort} from '../ports.js'
import {type FailureGroup, failureGroups} from './failures.js'
import {type Prunable, prunableRows, tableSize, type TableSize} from '../prune/status.js'
import {OutboxRepository} from './repository.js'
import {type OutboxTable, resolveOutbox, statusName} from './table.js'

export interface StatusOptions {
  config: Config
  /** Pending rows older than this count as stuck (default 5 min). */
  stuckAfterMs?: number
  /** How many event types to list (default 5). */
  topEventTypes?: number
  /** Thresholds that make the report fail (exit 1). */
  failIfPendingOlderThanMs?: number
  failIfDeadLetters?: number
  /** The mapping, when the caller resolved it already (a live view reads information_schema once, not every refresh). */
  table?: OutboxTable
  /** Figures left out, each one more query or more (a live view shows none of them; their report fields are then absent or null). */
  skip?: ('attempts' | 'topEventTypes' | 'topFailures' | 'size' | 'prunable')[]
  failIfPrunable?: number
}

export interface StatusReport {
  table: string
  /** Rows per status, by logical name (pending, sent, dead-letter, or the raw value of an unknown status). */
  counts: Record<string, number>
  /** The configured value of each status, so that integer mappings stay readable. */
  statusValues: {pending: string | number; sent: string | number; deadLetter: string | number}
  total: number
  /** Null when there is no pending row, or no time column to tell ages by. */
  oldestPendingAgeMs: number | null
  stuckAfterMs: number
  /** Null when the table has no time column: a stuck row cannot be told from a new one. */
  stuck: number | null
  /** Failed attempts of pending and dead-letter rows: bucket → rows; null when there is no attempts column. */
  attempts: Record<string, number> | null
  /** Sent rows in the last 1 m, 5 m and 1 h; null without a sent-at column. */
  sentRecently: {'1m': number; '5m': number; '1h': number} | null
  /** sent_at when it has an index; else created_at (rows created in the window that are sent now). */
  sentBasis: 'sent_at' | 'created_at' | null
  /** Figures past COUNT_CAP: a status count estimated from table statistics (its name), or a lower bound: a send count ('sent 1m'), 'stuck', '≥<status>'. */
  approximate: string[]
  topEventTypes: {eventType: string; count: number}[] | null
  /** Threshold breaches; non-empty means exit 1. */
  alerts: string[]
  /** What the report could not tell, and why (a table without a time column). */
  notes: string[]
  /** The biggest failure groups (outbox failures), from at most COUNT_CAP failed and dead-letter rows. */
  topFailures?: {groups: FailureGroup[]; limited: boolean}
  /** Rows and bytes from the table statistics. */
  size?: TableSize | null
  /** Sent rows older than outbox.retention (what outbox prune would delete); null without a time column. */
  prunable?: Prunable | null
}

/** Above this many rows a figure is estimated (counts) or capped (send rate), so that status stays fast on huge tables. */
export const COUNT_CAP = 100_000

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
 * | --fail-if-prunable N            | sent rows older than retention >= N   |
 * | none                            | never                                 |
 */
export function statusAlerts(report: Pick<StatusReport, 'oldestPendingAgeMs' | 'counts'> & Partial<Pick<StatusReport, 'prunable'>>, options: Pick<StatusOptions, 'failIfPendingOlderThanMs' | 'failIfDeadLetters' | 'failIfPrunable'>): string[] {
  const alerts: string[] = []
  if (options.failIfPendingOlderThanMs !== undefined && report.oldestPendingAgeMs !== null && report.oldestPendingAgeMs > options.failIfPendingOlderThanMs)
    alerts.push(`the oldest pending row is ${Math.round(report.oldestPendingAgeMs / 1000)}s old (threshold ${Math.round(options.failIfPendingOlderThanMs / 1000)}s)`)
  const dead = report.counts['dead-letter'] ?? 0
  if (options.failIfDeadLetters !== undefined && dead >= options.failIfDeadLetters)
    alerts.push(`${dead} dead-letter row${dead === 1 ? '' : 's'} (threshold ${options.failIfDeadLetters})`)
  const prunable = report.prunable?.rows ?? 0
  if (options.failIfPrunable !== undefined && report.prunable && prunable >= options.failIfPrunable)
    alerts.push(`${report.prunable.capped ? 'more than ' : ''}${prunable} sent row${prunable === 1 ? '' : 's'} older than outbox.retention ${report.prunable.retention} (threshold ${options.failIfPrunable}): run msgops outbox prune`)
  return alerts
}

/**
 * The outbox at a glance, without a full scan: every query is an index probe or a bounded index range on
 * (status, created_at) (or sent_at), and only pending and dead-letter rows are read whole. The figures that do not
 * depend on each other are read side by side (the pool has several connections).
 */
export async function outboxStatus(sql: SqlPort, options: StatusOptions): Promise<StatusReport> {
  const table = options.table ?? (await resolveOutbox(sql, options.config))
  const {t, c, statuses} = table
  const stuckAfterMs = options.stuckAfterMs ?? 300_000
  const skip = new Set(options.skip ?? [])
  // An age threshold that can never be breached would pass silently.
  if (options.failIfPendingOlderThanMs !== undefined) new OutboxRepository(table).timeColumn('--fail-if-pending-older-than')

  const [countsPart, agePart, attempts, sentPart, topEventTypes, topFailuresPart, size, prunable] = await Promise.all([
    statusCounts(sql, table),
    c.createdAt ? pendingAges(sql, table, c.createdAt, stuckAfterMs) : Promise.resolve(null),
    c.attempts && !skip.has('attempts') ? attemptBuckets(sql, table, c.attempts) : Promise.resolve(null),
    sentRecentlyOf(sql, table),
    c.eventType && !skip.has('topEventTypes') ? pendingEventTypes(sql, table, c.eventType, options.topEventTypes ?? 5) : Promise.resolve(null),
    skip.has('topFailures') ? Promise.resolve(undefined) : topFailures(sql, table),
    skip.has('size') ? Promise.resolve(undefined) : tableSize(sql, table.name),
    skip.has('prunable') ? Promise.resolve(undefined) : prunableRows(sql, table, options.config.outbox.retention, COUNT_CAP),
  ])
  const {counts, approximate} = countsPart
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0)

  const notes: string[] = []
  if (agePart?.future) notes.push(agePart.future)
  if (!c.createdAt) notes.push(`the outbox table "${table.name}" has no time column: no ages, no stuck rows (map outbox.columns.createdAt to tell them)`)
  if (c.sentAt && sentPart.basis === null) notes.push('no send rate: sent_at has no index and there is no time column to count by')
  approximate.push(...sentPart.approximate)
  if (agePart?.stuckCapped) approximate.push('stuck')

  const report: StatusReport = {
    table: table.name,
    counts,
    statusValues: statuses,
    total,
    oldestPendingAgeMs: agePart?.oldestPendingAgeMs ?? null,
    stuckAfterMs,
    stuck: agePart?.stuck ?? null,
    attempts,
    sentRecently: sentPart.figures,
    sentBasis: sentPart.basis,
    approximate,
    topEventTypes,
    alerts: [],
    notes,
    topFailures: topFailuresPart,
    size,
    prunable,
  }
  report.alerts = statusAlerts(report, options)
  return report
}

/**
 * Rows per status: the distinct statuses from a loose index scan, each counted exactly up to COUNT_CAP rows (an
 * index range, side by side), and a bigger one (typically sent) estimated from the table statistics instead of
 * walking millions of entries (read beside the counts: a big table needs them anyway).
 */
async function statusCounts(sql: SqlExecutor, table: OutboxTable): Promise<{counts: Record<string, number>; approximate: string[]}> {
  const {t, c} = table
  const counts: Record<string, number> = {pending: 0, sent: 0, 'dead-letter': 0}
  const approximate: string[] = []
  const stats = tableStats(sql, [table.name])
  stats.catch(() => {})
  const values = await sql.query<{s: unknown}>(`SELECT DISTINCT ${c.status} AS s FROM ${t}`)
  const sized = await Promise.all(values.map(async ({s}) => {
    const [row] = await sql.query<{n: unknown}>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${t} WHERE ${c.status} = ? LIMIT ?) AS capped`, [s, COUNT_CAP + 1])
    return {name: statusName(table, s), n: Number(row?.n ?? 0)}
  }))
  let exactTotal = 0
  const over: unknown[] = []
  for (const [i, {name, n}] of sized.entries()) {
    if (n > COUNT_CAP) {
      approximate.push(name)
      over.push(values[i].s)
    } else exactTotal += n
    counts[name] = (counts[name] ?? 0) + Math.min(n, COUNT_CAP)
  }
  if (over.length > 0) {
    // Sent rows are the bulk whenever they are past the cap; else the optimizer's estimates rank the statuses.
    const sentOver = over.some((s) => String(s) === String(table.statuses.sent))
    const ranks = over.length === 1 ? [0] : sentOver ? over.map((s) => (String(s) === String(table.statuses.sent) ? 1 : 0)) : rangeEstimates(sql, table, over)
    const [[stat], ranges] = await Promise.all([stats, ranks])
    const estimates = estimateCounts((stat?.rows ?? 0) - exactTotal, ranges)
    for (const [i, {n, lowerBound}] of estimates.entries()) {
      const name = statusName(table, over[i])
      counts[name] = n
      if (lowerBound) approximate[approximate.indexOf(name)] = `≥${name}`
    }
  }
  return {counts, approximate}
}

/**
 * The counts of the statuses past COUNT_CAP, a pure decision: `rest` is the table's estimated rows less the exact
 * counts; `ranks` ranks them: sent first when it is past the cap, else the optimizer's estimate of each status's
 * index range (EXPLAIN), which only ranks: InnoDB doubles the estimate of a range deeper than one page level (100,001
 * rows read 178,876 to 221,130) and caps it at half the table (100,001 pending and 300,000 sent rows both read 226,142).
 *
 * | statuses past the cap | each one's count                                                        |
 * | --------------------- | ----------------------------------------------------------------------- |
 * | one                   | rest, at least COUNT_CAP (estimated)                                    |
 * | several, the first     | rest less COUNT_CAP for each other one, at least COUNT_CAP (estimated)  |
 * | several, the others   | COUNT_CAP, a lower bound                                                |
 *
 * Splitting rest evenly made a backlog of 100,300 pending rows read ~4.8 million beside 9.6 million sent rows.
 */
export function estimateCounts(rest: number, ranks: readonly number[]): {n: number; lowerBound: boolean}[] {
  const biggest = ranks.indexOf(Math.max(...ranks))
  return ranks.map((_, i) =>
    i === biggest ? {n: Math.max(COUNT_CAP, Math.round(rest - COUNT_CAP * (ranks.length - 1))), lowerBound: false} : {n: COUNT_CAP, lowerBound: true},
  )
}

/** The optimizer's row estimate of each status's range on (status, created_at): an index dive each, no scan (a rank only). */
async function rangeEstimates(sql: SqlExecutor, table: OutboxTable, values: unknown[]): Promise<number[]> {
  const {t, c} = table
  return Promise.all(values.map(async (s) => {
    const plan = await sql.query<{rows: unknown}>(`EXPLAIN SELECT 1 FROM ${t} WHERE ${c.status} = ?`, [s])
    return Number(plan[0]?.rows ?? 0)
  }))
}

/** The oldest pending row's age, rows created in the future (a note), and pending rows older than stuckAfterMs (capped at COUNT_CAP). */
async function pendingAges(sql: SqlExecutor, table: OutboxTable, createdAt: string, stuckAfterMs: number): Promise<{oldestPendingAgeMs: number | null; stuck: number; stuckCapped: boolean; future: string | null}> {
  const {t, c, statuses} = table
  const [[oldest], [stuckRow]] = await Promise.all([
    sql.query<{age: unknown; ahead: unknown}>(
      `SELECT TIMESTAMPDIFF(MICROSECOND, MIN(${createdAt}), NOW(3)) DIV 1000 AS age, TIMESTAMPDIFF(MICROSECOND, NOW(3), MAX(${createdAt})) DIV 1000 AS ahead FROM ${t} WHERE ${c.status} = ?`,
      [statuses.pending],
    ),
    // Capped as every count: a backlog of millions after an outage would otherwise be walked on every refresh of top.
    sql.query<{n: unknown}>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${t} WHERE ${c.status} = ? AND ${createdAt} <= NOW(3) - INTERVAL ? MICROSECOND LIMIT ?) AS capped`, [statuses.pending, stuckAfterMs * 1000, COUNT_CAP + 1]),
  ])
  const ahead = Number(oldest?.ahead ?? 0)
  const stuck = Number(stuckRow?.n ?? 0)
  return {
    oldestPendingAgeMs: oldest?.age === null || oldest?.age === undefined ? null : Number(oldest.age),
    stuck: Math.min(stuck, COUNT_CAP),
    stuckCapped: stuck > COUNT_CAP,
    future: ahead > FUTURE_TOLERANCE_MS ? futureNote(await countFuture(sql, t, createdAt, c.status, statuses.pending), ahead) : null,
  }
}

/** Failed attempts of pending and dead-letter rows, by bucket. */
async function attemptBuckets(sql: SqlExecutor, table: OutboxTable, attemptsColumn: string): Promise<Record<string, number>> {
  const {t, c, statuses} = table
  const attempts: Record<string, number> = Object.fromEntries(BUCKETS.map((b) => [b, 0]))
  const rows = await sql.query<{a: unknown; n: unknown}>(`SELECT ${attemptsColumn} AS a, COUNT(*) AS n FROM ${t} WHERE ${c.status} IN (?) GROUP BY ${attemptsColumn}`, [[statuses.pending, statuses.deadLetter]])
  for (const row of rows) attempts[attemptsBucket(Number(row.a ?? 0))] += Number(row.n)
  return attempts
}

/**
 * Sent rows in the last 1 m, 5 m and 1 h (side by side, each capped at COUNT_CAP). Exact send times need an index on
 * sent_at; without one, sent rows are counted by creation time on (status, created_at).
 */
async function sentRecentlyOf(sql: SqlExecutor, table: OutboxTable): Promise<{figures: StatusReport['sentRecently']; basis: StatusReport['sentBasis']; approximate: string[]}> {
  const {t, c, statuses} = table
  if (!table.names.sentAt) return {figures: null, basis: null, approximate: []}
  const indexed = leadsIndex(await indexColumns(sql, [table.name]), table.names.sentAt)
  const basis: StatusReport['sentBasis'] = indexed ? 'sent_at' : c.createdAt ? 'created_at' : null
  if (!c.sentAt || basis === null) return {figures: null, basis, approximate: []}
  const condition = basis === 'sent_at' ? `${c.sentAt} >= NOW(3) - INTERVAL ? SECOND` : `${c.status} = ? AND ${c.createdAt!} >= NOW(3) - INTERVAL ? SECOND`
  const windows = {'1m': 60, '5m': 300, '1h': 3600} as const
  const counted = await Promise.all(Object.entries(windows).map(async ([name, seconds]) => {
    const params = basis === 'sent_at' ? [seconds] : [statuses.sent, seconds]
    const [row] = await sql.query<{n: unknown}>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${t} WHERE ${condition} LIMIT ?) AS capped`, [...params, COUNT_CAP + 1])
    return {name, n: Number(row?.n ?? 0)}
  }))
  const figures: Record<string, number> = {}
  const approximate: string[] = []
  for (const {name, n} of counted) {
    figures[name] = Math.min(n, COUNT_CAP)
    if (n > COUNT_CAP) approximate.push(`sent ${name}`)
  }
  return {figures: figures as StatusReport['sentRecently'], basis, approximate}
}

/** The event types with the most pending rows. */
async function pendingEventTypes(sql: SqlExecutor, table: OutboxTable, eventType: string, top: number): Promise<NonNullable<StatusReport['topEventTypes']>> {
  const {t, c, statuses} = table
  const rows = await sql.query<{e: unknown; n: unknown}>(`SELECT ${eventType} AS e, COUNT(*) AS n FROM ${t} WHERE ${c.status} = ? GROUP BY ${eventType} ORDER BY n DESC, e LIMIT ?`, [statuses.pending, top])
  return rows.map((r) => ({eventType: r.e === null ? '(none)' : String(r.e), count: Number(r.n)}))
}

/** The top 3 failure groups, from a bounded read of the failed and dead-letter index ranges. */
async function topFailures(sql: SqlExecutor, table: OutboxTable): Promise<NonNullable<StatusReport['topFailures']>> {
  const report = await failureGroups(sql, table, {top: 3, limit: COUNT_CAP})
  return {groups: report.groups, limited: report.limited}
}

/** Clocks of application hosts and the database drift by seconds; a row more than this ahead was written in another zone. */
const FUTURE_TOLERANCE_MS = 60_000

async function countFuture(sql: SqlExecutor, t: string, createdAt: string, status: string, pending: unknown): Promise<number> {
  const [row] = await sql.query<{n: unknown}>(`SELECT COUNT(*) AS n FROM ${t} WHERE ${status} = ? AND ${createdAt} > NOW(3) + INTERVAL 1 MINUTE`, [pending])
  return Number(row?.n ?? 0)
}

/** Rows created "in the future": a DATETIME written in another time zone than the session's, which drain and reconcile skip until then. */
export function futureNote(rows: number, aheadMs: number): string {
  return `${rows.toLocaleString('en-US')} pending row${rows === 1 ? ' has' : 's have'} created_at in the future (the newest ${formatDuration(aheadMs)} ahead of the database's clock): written in another time zone than the database session's? drain and reconcile take them only once that time has come`
}
