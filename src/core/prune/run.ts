import {OperationError, oneLine} from '../errors.js'
import type {ProgressCallback, Row, SqlExecutor, SqlPort} from '../ports.js'
import {type Clock, systemClock} from '../time.js'
import type {RowArchive} from './archive.js'
import {type LoadReading, MIN_CHUNK_SIZE, nextChunkSize, nextStartMs, othersPerSecond, type Pace, POLITE_CHUNK_MS, POLITE_SLEEP_COEF, politeNext, throttleReason, BUSY_STATEMENTS_PER_S} from './decide.js'
import {type LoadProbe, OWN_STATEMENTS} from './load.js'
import {type Condition, keysetAfter, keysIn, type PruneTarget} from './target.js'

export interface PruneOptions {
  dryRun: boolean
  /** The first chunk's size (--chunk-size). */
  chunkSize: number
  maxChunkSize: number
  /** Each chunk should take about this long (--chunk-time). */
  chunkTimeMs: number
  /** --chunk-time was given: the polite setting keeps it instead of its own 5 ms. */
  chunkTimeGiven?: boolean
  /** --pace (default full here; the commands default to auto). */
  pace?: Pace
  sleepMs?: number
  /** --sleep-coef: after each chunk, a pause of this many times the chunk's own time. */
  sleepCoef?: number
  /** Rows per second at most over the run. */
  rate?: number
  limit?: number
  /** Time budget: no chunk starts after it (--until). */
  untilMs?: number
  maxLoad: number
  maxLagS: number
  /** How often a paused run looks again. */
  pauseCheckMs?: number
}

export interface PrunePorts {
  sql: SqlPort
  load: LoadProbe
  archive?: RowArchive
  clock?: Clock
  signal?: AbortSignal
  /** A pause began (once per pause, with its first reason) or ended. */
  onPause?(reason: string | null): void
}

export interface PruneCount {
  rows: number
  /** The basis column's oldest and newest value among them, as the server stores it. */
  oldest: string | null
  newest: string | null
}

export interface PruneReport {
  kind: 'outbox' | 'inbox'
  table: string
  /** What goes, in words (the status, the basis column and the cut). */
  what: string
  basis: string
  dryRun: boolean
  /** Rows that met the condition at the start (a dry run's answer). */
  eligible: PruneCount
  deleted: number
  /** Lines written and fsynced to the archive (each before its chunk's DELETE committed). */
  archived: number
  archive?: string
  /** Candidates that no longer met the condition when their chunk came (requeued, drained, changed): kept. */
  kept: number
  chunks: number
  chunkSize: {first: number; last: number; smallest: number; largest: number}
  /** From the first chunk to the last, pauses included. */
  elapsedMs: number
  rowsPerSecond: number
  pauses: {count: number; ms: number; reasons: Record<string, number>}
  /** --pace, and how many chunks ran polite (short, each followed by a pause) and at full speed. */
  pace: {mode: Pace; politeChunks: number; fullChunks: number}
  /** Why it stopped before the end: --limit, --until, or a signal. */
  stoppedBy?: 'limit' | 'until' | 'interrupted'
  interrupted: boolean
  cancelled?: boolean
}

/** How many rows would go, and the oldest and newest of them: one index range (status and time). */
export async function countEligible(sql: SqlExecutor, target: PruneTarget): Promise<PruneCount> {
  const [row] = await sql.query<{n: unknown; oldest: unknown; newest: unknown}>(
    `SELECT COUNT(*) AS n, CAST(MIN(${target.time}) AS CHAR) AS oldest, CAST(MAX(${target.time}) AS CHAR) AS newest FROM ${target.t} WHERE ${target.eligible.sql}`,
    target.eligible.params,
  )
  return {rows: Number(row?.n ?? 0), oldest: row?.oldest == null ? null : String(row.oldest), newest: row?.newest == null ? null : String(row.newest)}
}

export function emptyReport(target: PruneTarget, dryRun: boolean, eligible: PruneCount, chunkSize: number): PruneReport {
  return {
    kind: target.kind, table: target.name, what: target.describe, basis: target.basis, dryRun, eligible,
    deleted: 0, archived: 0, kept: 0, chunks: 0, chunkSize: {first: chunkSize, last: chunkSize, smallest: chunkSize, largest: chunkSize},
    elapsedMs: 0, rowsPerSecond: 0, pauses: {count: 0, ms: 0, reasons: {}}, pace: {mode: 'full', politeChunks: 0, fullChunks: 0}, interrupted: false,
  }
}

/** An archive line: the table, when, and the row with its time columns as stored and binary values in base64. */
function archiveLine(table: string, prunedAt: string, row: Row): string {
  const values: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(row)) values[k] = Buffer.isBuffer(v) ? {base64: v.toString('base64')} : v
  return `${JSON.stringify({table, prunedAt, row: values})}\n`
}

/**
 * Deletes the target's rows like pt-archiver: the primary key walked in keyset chunks (never OFFSET); per chunk, a
 * plain read of the next candidate keys, then one short transaction that deletes those keys only where the row still
 * meets the condition (so a row requeued or drained meanwhile stays). With an archive, the chunk's rows are read
 * FOR UPDATE, written and fsynced before the DELETE commits. Before each chunk it waits while the server is busy or a
 * replica lags; the chunk size follows --chunk-time. Stops between chunks on --limit, --until or a signal.
 */
export async function pruneRows(ports: PrunePorts, target: PruneTarget, options: PruneOptions, eligible: PruneCount, progress: ProgressCallback = () => {}): Promise<PruneReport> {
  const clock = ports.clock ?? systemClock
  const report = emptyReport(target, options.dryRun, eligible, options.chunkSize)
  report.archive = ports.archive?.path
  const pace = options.pace ?? 'full'
  report.pace.mode = pace
  if (options.dryRun) return report
  const started = clock.now()
  const deadline = options.untilMs === undefined ? Number.POSITIVE_INFINITY : started + options.untilMs
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  let size = Math.min(options.chunkSize, options.maxChunkSize)
  let after: unknown[] | undefined
  const keyList = target.key.join(', ')
  const keyAliases = target.key.map((k, i) => `CAST(${k} AS CHAR) AS k${i}`).join(', ')
  let polite: boolean = false
  let others: number | undefined
  let previous: LoadReading | undefined
  let lastBusyAt: number | undefined
  let ownStatements = 0
  let rowsPerMs: number | undefined
  const pausesGiven = options.rate !== undefined || options.sleepMs !== undefined || options.sleepCoef !== undefined
  const politeTargetMs = options.chunkTimeGiven ? options.chunkTimeMs : Math.min(options.chunkTimeMs, POLITE_CHUNK_MS)
  const paceNote = () => (polite ? ` · polite${others === undefined ? '' : others >= BUSY_STATEMENTS_PER_S ? `: others ${Math.round(others).toLocaleString('en-US')} statements/s` : ''}` : '')
  const show = (note?: string) => progress({done: report.deleted, total: Math.max(eligible.rows, report.deleted), note: note ?? `chunk ${size.toLocaleString('en-US')}${paceNote()}`})

  for (;;) {
    if (ports.signal?.aborted) {
      report.stoppedBy = 'interrupted'
      break
    }
    if (report.deleted >= limit) {
      report.stoppedBy = 'limit'
      break
    }
    const reading = await waitForCalm(ports, options, report, deadline, show)
    if (reading === undefined) {
      report.stoppedBy = ports.signal?.aborted ? 'interrupted' : 'until'
      break
    }
    others = othersPerSecond(previous, reading, ownStatements)
    previous = reading
    ownStatements = 0
    if (others !== undefined && others >= BUSY_STATEMENTS_PER_S) lastBusyAt = clock.now()
    const wasPolite: boolean = polite
    polite = politeNext({pace, othersPerS: others, lastBusyAt, now: clock.now()})
    const targetMs = polite ? politeTargetMs : options.chunkTimeMs
    // A change of pace moves the target 100-fold (500 ms against 5 ms): the size jumps to it from the last chunk's speed, not by halves.
    if (polite !== wasPolite && rowsPerMs !== undefined) size = Math.min(options.maxChunkSize, Math.max(MIN_CHUNK_SIZE, Math.round(rowsPerMs * targetMs)))
    if (clock.now() >= deadline) {
      report.stoppedBy = 'until'
      break
    }
    let want = Math.min(size, limit - report.deleted)
    if (options.rate !== undefined) want = Math.max(1, Math.min(want, Math.ceil(options.rate)))
    const chunkStart = clock.now()
    const where: Condition = after ? keysetAfter(target.key, after) : {sql: '1 = 1', params: []}
    const candidates = await ports.sql.query<Row>(
      `SELECT ${keyAliases} FROM ${target.t} WHERE ${where.sql} AND ${target.eligible.sql} ORDER BY ${keyList} LIMIT ?`,
      [...where.params, ...target.eligible.params, want],
    )
    if (candidates.length === 0) break
    const keys = candidates.map((r) => target.key.map((_, i) => r[`k${i}`]))
    after = keys.at(-1)
    const deleted = ports.archive ? await deleteArchived(ports.sql, ports.archive, target, keys, clock) : await deletePlain(ports.sql, target, keys)
    ownStatements += ports.archive ? OWN_STATEMENTS.archived : OWN_STATEMENTS.plain
    if (polite) report.pace.politeChunks++
    else report.pace.fullChunks++
    report.deleted += deleted
    if (ports.archive) report.archived += deleted
    report.kept += keys.length - deleted
    report.chunks++
    const elapsedMs = clock.now() - chunkStart
    if (elapsedMs > 0 && keys.length > 0) rowsPerMs = keys.length / elapsedMs
    size = nextChunkSize({size: want, rows: keys.length, elapsedMs, targetMs, max: options.maxChunkSize})
    report.chunkSize.last = size
    report.chunkSize.smallest = Math.min(report.chunkSize.smallest, want)
    report.chunkSize.largest = Math.max(report.chunkSize.largest, want)
    show()
    if (keys.length < want) break
    const sleepCoef = polite && !pausesGiven ? POLITE_SLEEP_COEF : options.sleepCoef
    const at = nextStartMs({now: clock.now(), started, deleted: report.deleted, chunkMs: elapsedMs, rate: options.rate, sleepMs: options.sleepMs, sleepCoef})
    await clock.sleep(Math.min(at, deadline) - clock.now(), ports.signal)
  }
  report.elapsedMs = Math.round(clock.now() - started)
  report.rowsPerSecond = report.elapsedMs > 0 ? Math.round((report.deleted * 1000) / report.elapsedMs) : report.deleted
  report.interrupted = report.stoppedBy === 'interrupted'
  return report
}

/** Waits while the throttle says pause; the last reading, or undefined when the budget ran out or the run was stopped meanwhile. */
async function waitForCalm(ports: PrunePorts, options: PruneOptions, report: PruneReport, deadline: number, show: (label: string) => void): Promise<LoadReading | undefined> {
  const clock = ports.clock ?? systemClock
  let pausedAt: number | undefined
  let reading: LoadReading
  for (;;) {
    reading = await ports.load.read()
    const reason = throttleReason(reading, {maxLoad: options.maxLoad, maxLagS: options.maxLagS})
    if (reason === null) break
    if (pausedAt === undefined) {
      pausedAt = clock.now()
      report.pauses.count++
      ports.onPause?.(reason)
    }
    const kind = reason.replace(/ .*/, '')
    report.pauses.reasons[kind] = (report.pauses.reasons[kind] ?? 0) + 1
    show(`paused: ${reason}`)
    if (ports.signal?.aborted || clock.now() >= deadline) break
    await clock.sleep(Math.min(options.pauseCheckMs ?? 1000, deadline - clock.now()), ports.signal)
  }
  if (pausedAt !== undefined) {
    report.pauses.ms += Math.round(clock.now() - pausedAt)
    ports.onPause?.(null)
    return !ports.signal?.aborted && clock.now() < deadline ? reading : undefined
  }
  return reading
}

/** One statement, one short transaction: the keys, where the row still meets the condition. */
async function deletePlain(sql: SqlPort, target: PruneTarget, keys: unknown[][]): Promise<number> {
  const inKeys = keysIn(target.key, keys)
  const {affectedRows} = await sql.execute(`DELETE FROM ${target.t} WHERE ${inKeys.sql} AND ${target.eligible.sql}`, [...inKeys.params, ...target.eligible.params])
  return affectedRows
}

/**
 * Locks the chunk's rows that still meet the condition, archives them (fsync), deletes exactly those, commits.
 * A failure before the commit takes the chunk's lines back out of the archive; only a crash between the fsync and the
 * commit can leave lines of rows that were not deleted (the next run archives them again).
 */
async function deleteArchived(sql: SqlPort, archive: RowArchive, target: PruneTarget, keys: unknown[][], clock: Clock): Promise<number> {
  let mark: number | undefined
  let committing = false
  try {
    return await sql.transaction(async (tx) => {
      const inKeys = keysIn(target.key, keys)
      const rows = await tx.query<Row>(
        `SELECT ${target.archiveColumns} FROM ${target.t} WHERE ${inKeys.sql} AND ${target.eligible.sql} FOR UPDATE`,
        [...inKeys.params, ...target.eligible.params],
      )
      if (rows.length === 0) return 0
      const prunedAt = new Date(clock.now()).toISOString()
      mark = await archive.append(rows.map((row) => archiveLine(target.name, prunedAt, row)))
      // The locked rows' own keys: the DELETE takes exactly what was archived.
      const locked = keysIn(target.key, rows.map((row) => target.keyNames.map((k) => row[k])))
      const {affectedRows} = await tx.execute(`DELETE FROM ${target.t} WHERE ${locked.sql} AND ${target.eligible.sql}`, [...locked.params, ...target.eligible.params])
      if (affectedRows !== rows.length)
        throw new OperationError(`the chunk deleted ${affectedRows} rows but archived ${rows.length}`, 'it was rolled back and its archive lines taken out; run again')
      committing = true
      return affectedRows
    })
  } catch (error) {
    if (mark !== undefined && !committing) await archive.truncate(mark).catch(() => {})
    if (committing)
      throw new OperationError(`the commit of a chunk failed: ${oneLine((error as Error).message)}`, `its ${keys.length} candidate rows may or may not be deleted while their lines are in the archive; run again (the archive may then repeat them)`, error)
    throw error
  }
}
