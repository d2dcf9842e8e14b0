import {parseDuration} from '../duration.js'
import {UsageError} from '../errors.js'
import type {SqlExecutor} from '../ports.js'
import type {KeyRanges} from './ranges.js'

/** A point in time as given on the command line: a duration ago, or a wall-clock time of the database. */
export type TimeSpec = {kind: 'ago'; ms: number; text: string} | {kind: 'at'; at: string; text: string}

const DATE = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?$/

/**
 * Parses `--since` / `--until`.
 *
 * | input                        | meaning                                         |
 * | ---------------------------- | ----------------------------------------------- |
 * | `24h`, `90m`, `7d`           | that long before the database's NOW(3)          |
 * | `2026-11-20`                 | midnight of that day, database time zone        |
 * | `2026-11-20 10:30[:15[.250]]`| that time, database time zone (`T` also allowed) |
 * | anything else (zones too)    | UsageError                                      |
 */
export function parseTimeSpec(input: string, what: string): TimeSpec {
  const text = input.trim()
  const date = DATE.exec(text)
  if (date) {
    const time = date[2] ?? '00:00:00'
    const at = `${date[1]} ${time.length === 5 ? `${time}:00` : time}`
    // Checked here, before any lock or connection: the database would only refuse it halfway through.
    if (!isCalendarTime(at))
      throw new UsageError(`${what} "${text.slice(0, 40)}" is not a real date and time`, 'use YYYY-MM-DD HH:MM:SS, e.g. 2026-01-31 23:00:00')
    return {kind: 'at', at, text}
  }
  if (/^\d{4}-/.test(text))
    throw new UsageError(`${what} "${text.slice(0, 40)}" is not a time msgops understands`, 'use a duration such as 24h, or YYYY-MM-DD HH:MM:SS in the database time zone (no zone suffix)')
  return {kind: 'ago', ms: parseDuration(text, what), text}
}

function isCalendarTime(at: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$/.exec(at)
  if (!m) return false
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number)
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second))
  return year >= 1000 && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60
}

/** The resolved window, as the database's own DATETIME text, fixed once for the whole run. */
export interface Bounds {
  /** The database's NOW(3) when the run started. */
  now: string
  /** Rows at or after this time are in the window. */
  since: string
  /** Rows before this time are in the window; null = up to now. */
  until: string | null
  /** Rows at or before this time are past the grace period; younger rows are never flagged. */
  cutoff: string
  /** The key ranges of this part or chunk (ranges.ts); none: every key. */
  keys?: KeyRanges
}

export const SQL_TIME_FORMAT = "'%Y-%m-%d %H:%i:%s.%f'"

function expr(spec: TimeSpec, params: unknown[]): string {
  if (spec.kind === 'ago') {
    params.push(spec.ms * 1000)
    return 'NOW(3) - INTERVAL ? MICROSECOND'
  }
  params.push(spec.at)
  return 'CAST(? AS DATETIME(3))'
}

/** Asks the database for the window's bounds once, so every batch compares against the same DB-clock instants. */
export async function resolveBounds(sql: SqlExecutor, since: TimeSpec, until: TimeSpec | undefined, graceMs: number): Promise<Bounds> {
  const params: unknown[] = []
  const sinceSql = expr(since, params)
  const untilSql = until ? expr(until, params) : 'NULL'
  params.push(graceMs * 1000)
  const rows = await sql.query<{now: string; since: string | null; until: string | null; cutoff: string}>(
    `SELECT DATE_FORMAT(NOW(3), ${SQL_TIME_FORMAT}) AS now, DATE_FORMAT(${sinceSql}, ${SQL_TIME_FORMAT}) AS since, ` +
      `DATE_FORMAT(${untilSql}, ${SQL_TIME_FORMAT}) AS until, DATE_FORMAT(NOW(3) - INTERVAL ? MICROSECOND, ${SQL_TIME_FORMAT}) AS cutoff`,
    params,
  )
  const row = rows[0]
  if (!row?.since) throw new UsageError(`--since "${since.text}" is not a valid time`, 'use a duration such as 24h, or YYYY-MM-DD HH:MM:SS')
  if (until && !row.until) throw new UsageError(`--until "${until.text}" is not a valid time`, 'use a duration such as 1h, or YYYY-MM-DD HH:MM:SS')
  if (row.until && row.until <= row.since) throw new UsageError(`the window is empty: --since ${since.text} is not before --until ${until?.text}`, 'pass a --since older than --until')
  return {now: String(row.now), since: String(row.since), until: row.until === null ? null : String(row.until), cutoff: String(row.cutoff)}
}
