import {OperationError, oneLine, UsageError} from '../errors.js'
import type {SqlExecutor, SqlPort} from '../ports.js'
import {qid} from '../sql.js'
import {type Clock, systemClock} from '../time.js'
import {decidePartitions, type PartitionDecision} from './decide.js'
import type {Cut, PruneTarget} from './target.js'

export type PartitionMethod = 'columns' | 'to_days' | 'unix_timestamp'

export interface PartitionInfo {
  name: string
  /** The upper bound as DATETIME text (exclusive); null for MAXVALUE. */
  bound: string | null
  /** The statistics' estimate. */
  rows: number
}

export interface PartitionScheme {
  method: PartitionMethod
  /** The partitioning column, as named in the table. */
  column: string
  partitions: PartitionInfo[]
}

/** How long an ALTER or LOCK TABLES waits for the table's metadata lock: queries queue behind a waiting DDL, so briefly. */
const LOCK_WAIT_S = 1
const LOCK_TRIES = 5

/** The table's RANGE partitioning on one time column, or null when it is not partitioned; anything else is refused. */
export async function readPartitions(sql: SqlExecutor, table: string): Promise<PartitionScheme | null> {
  const rows = await sql.query<{name: unknown; method: unknown; expr: unknown; descr: unknown; n: unknown}>(
    `SELECT PARTITION_NAME AS name, PARTITION_METHOD AS method, PARTITION_EXPRESSION AS expr, PARTITION_DESCRIPTION AS descr, TABLE_ROWS AS n
     FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION`,
    [table],
  )
  if (rows.length === 0) return null
  const method = String(rows[0].method)
  const expr = String(rows[0].expr).trim()
  const column = /^`([^`]+)`$/.exec(expr)?.[1] ?? /^(to_days|unix_timestamp)\(`([^`]+)`\)$/i.exec(expr)?.[2]
  const kind: PartitionMethod | undefined = method === 'RANGE COLUMNS' && /^`[^`]+`$/.test(expr) ? 'columns' : method === 'RANGE' ? (/^to_days/i.test(expr) ? 'to_days' : /^unix_timestamp/i.test(expr) ? 'unix_timestamp' : undefined) : undefined
  if (!kind || !column)
    throw new UsageError(`the table "${table}" is partitioned by ${method} ${expr}, not by RANGE on a time column`, 'use RANGE COLUMNS(col), RANGE (TO_DAYS(col)) or RANGE (UNIX_TIMESTAMP(col)); or prune without --drop-partitions')
  const partitions: PartitionInfo[] = []
  for (const row of rows) {
    const descr = String(row.descr)
    let bound: string | null = null
    if (descr !== 'MAXVALUE') {
      const expression = kind === 'columns' ? 'CAST(? AS DATETIME(6))' : kind === 'to_days' ? 'FROM_DAYS(?)' : 'FROM_UNIXTIME(?)'
      const value = kind === 'columns' ? descr.replace(/^'|'$/g, '') : Number(descr)
      const [b] = await sql.query<{b: unknown}>(`SELECT DATE_FORMAT(${expression}, '%Y-%m-%d %H:%i:%s.%f') AS b`, [value])
      bound = b?.b == null ? null : String(b.b)
    }
    partitions.push({name: String(row.name), bound, rows: Number(row.n ?? 0)})
  }
  return {method: kind, column, partitions}
}

export interface PartitionDropReport {
  table: string
  column: string
  cut: string
  dryRun: boolean
  decisions: (PartitionDecision & {bound: string | null; rows: number})[]
  dropped: string[]
  /** The statistics' estimate of the rows the dropped partitions held. */
  droppedRows: number
  /** Older partitions kept because a row in them must stay. */
  refused: number
  added: string[]
  elapsedMs: number
}

/** The partition column must be one of the table's mapped time columns: a partition's age is its bound's age. */
export function checkPartitionColumn(scheme: PartitionScheme, table: string, timeColumns: (string | null)[]): void {
  if (!timeColumns.some((c) => c !== null && c.toLowerCase() === scheme.column.toLowerCase()))
    throw new UsageError(`the table "${table}" is partitioned on ${scheme.column}, which is not one of its mapped time columns (${timeColumns.filter(Boolean).join(', ')})`, 'partition on the creation time column, or prune without --drop-partitions')
}

/** Runs statements under a metadata lock taken with a short wait, retried: a waiting DDL would stall every query behind it. */
async function withShortLockWait<T>(sql: SqlPort, clock: Clock, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sql.transaction(async (tx) => {
        await tx.execute(`SET SESSION lock_wait_timeout = ${LOCK_WAIT_S}`)
        return work(tx)
      })
    } catch (error) {
      const busy = /lock wait timeout/i.test((error as Error).message)
      if (!busy) throw error
      if (attempt >= LOCK_TRIES)
        throw new OperationError(`the table stayed busy: ${oneLine((error as Error).message)}`, 'a long transaction holds it; run again later', error)
      await clock.sleep(1000 * attempt)
    }
  }
}

/**
 * Drops whole partitions older than the cut, each only after checking, under LOCK TABLES … WRITE (one connection,
 * held for index probes and the ALTER), that no row that must stay lives in it; adds day partitions ahead if asked.
 */
export async function dropPartitions(
  sql: SqlPort,
  target: PruneTarget,
  scheme: PartitionScheme,
  cut: Cut,
  options: {dryRun: boolean; addAheadDays?: number; clock?: Clock},
): Promise<PartitionDropReport> {
  const clock = options.clock ?? systemClock
  const started = clock.now()
  const report: PartitionDropReport = {table: target.name, column: scheme.column, cut: cut.at, dryRun: options.dryRun, decisions: [], dropped: [], droppedRows: 0, refused: 0, added: [], elapsedMs: 0}
  const decide = async (tx: SqlExecutor) => {
    const facts = []
    for (const p of scheme.partitions) {
      const olderThanCut = p.bound !== null && p.bound <= cut.at
      let mustStay = 0
      if (olderThanCut) {
        const [row] = await tx.query<{n: unknown}>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${target.t} PARTITION (${qid(p.name)}) WHERE ${target.mustStay.sql} LIMIT 1000) AS capped`, target.mustStay.params)
        mustStay = Number(row?.n ?? 0)
      }
      facts.push({name: p.name, maxValue: p.bound === null, olderThanCut, mustStay})
    }
    const byName = new Map(scheme.partitions.map((p) => [p.name, p]))
    return decidePartitions(facts).map((d) => ({...d, bound: byName.get(d.name)!.bound, rows: byName.get(d.name)!.rows}))
  }
  if (options.dryRun) report.decisions = await decide(sql)
  else
    report.decisions = await withShortLockWait(sql, clock, async (tx) => {
      await tx.execute(`LOCK TABLES ${target.t} WRITE`)
      try {
        const decisions = await decide(tx)
        const drop = decisions.filter((d) => d.action === 'drop').map((d) => d.name)
        if (drop.length > 0) await tx.execute(`ALTER TABLE ${target.t} DROP PARTITION ${drop.map(qid).join(', ')}`)
        return decisions
      } finally {
        await tx.execute('UNLOCK TABLES')
      }
    })
  for (const d of report.decisions) {
    if (d.action === 'drop') {
      report.dropped.push(d.name)
      report.droppedRows += d.rows
    } else if (d.why === 'rows must stay') report.refused++
  }
  if (options.addAheadDays !== undefined) {
    const fresh = options.dryRun ? scheme : ((await readPartitions(sql, target.name)) ?? scheme)
    report.added = await addPartitions(sql, target.t, fresh, options.addAheadDays, {dryRun: options.dryRun, clock})
  }
  report.elapsedMs = Math.round(clock.now() - started)
  return report
}

/** YYYY-MM-DD plus n days (calendar arithmetic on the date alone, no time zone). */
export function addDays(date: string, n: number): string {
  const d = new Date(`${date}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + n)
  return d.toISOString().slice(0, 10)
}

/** The VALUES LESS THAN of a day boundary in a scheme's terms; dates are digits and dashes only. */
export function boundLiteral(method: PartitionMethod, date: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`not a date: ${date}`)
  if (method === 'columns') return `('${date}')`
  return method === 'to_days' ? `(TO_DAYS('${date}'))` : `(UNIX_TIMESTAMP('${date}'))`
}

/** Day partitions: each named pYYYYMMDD for the day it holds, bounded by the next midnight. */
export function dayPartitions(method: PartitionMethod, firstDay: string, lastDay: string): string[] {
  const out: string[] = []
  for (let day = firstDay; day <= lastDay; day = addDays(day, 1)) out.push(`PARTITION ${qid(`p${day.replaceAll('-', '')}`)} VALUES LESS THAN ${boundLiteral(method, addDays(day, 1))}`)
  return out
}

/**
 * Adds day partitions so that every day up to today + aheadDays has its own (today by the server's date): split out
 * of the MAXVALUE partition when there is one (REORGANIZE, which moves only the rows already in it), else added.
 */
export async function addPartitions(sql: SqlPort, t: string, scheme: PartitionScheme, aheadDays: number, options: {dryRun: boolean; clock?: Clock}): Promise<string[]> {
  const [row] = await sql.query<{d: unknown}>("SELECT DATE_FORMAT(CURDATE(), '%Y-%m-%d') AS d")
  const today = String(row.d)
  const lastDay = addDays(today, Math.ceil(aheadDays))
  const bounded = scheme.partitions.filter((p) => p.bound !== null)
  const catchAll = scheme.partitions.find((p) => p.bound === null)
  // The first new day is the one that starts at the last bound (a bound not at midnight: its day).
  const lastBound = bounded.at(-1)?.bound
  const firstDay = lastBound ? lastBound.slice(0, 10) : today
  if (firstDay > lastDay) return []
  const parts = dayPartitions(scheme.method, firstDay, lastDay)
  const names = parts.map((p) => /`([^`]+)`/.exec(p)![1])
  const taken = new Set(scheme.partitions.map((p) => p.name.toLowerCase()))
  const clash = names.find((n) => taken.has(n.toLowerCase()))
  if (clash) throw new UsageError(`a partition named ${clash} already exists but does not hold that day`, 'rename it, or add partitions by hand')
  if (options.dryRun) return names
  const statement = catchAll
    ? `ALTER TABLE ${t} REORGANIZE PARTITION ${qid(catchAll.name)} INTO (${[...parts, `PARTITION ${qid(catchAll.name)} VALUES LESS THAN ${scheme.method === 'columns' ? '(MAXVALUE)' : 'MAXVALUE'}`].join(', ')})`
    : `ALTER TABLE ${t} ADD PARTITION (${parts.join(', ')})`
  await withShortLockWait(sql, options.clock ?? systemClock, (tx) => tx.execute(statement))
  return names
}
