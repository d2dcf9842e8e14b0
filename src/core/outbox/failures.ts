import type {Config} from '../../config/schema.js'
import {UsageError} from '../errors.js'
import {errorPattern, fingerprintOfPattern, isFingerprint} from '../fingerprint.js'
import type {ProgressCallback, SqlExecutor} from '../ports.js'
import {qid} from '../sql.js'
import {parseTimeSpec, type TimeSpec} from '../reconcile/window.js'
import {type OutboxTable, resolveOutbox, type StatusValue} from './table.js'

/** Which failed rows: the two kinds, a window on created_at, an event type; every value reaches SQL as a parameter. */
export interface FailureFilter {
  /** failed: pending rows with attempts ≥ 1 (or a last error when there is no attempts column); dead-letter rows. */
  kinds: FailureKind[]
  /** created_at at or after / before these database times (text from resolveWindow). */
  since?: string
  until?: string
  eventType?: string
}

export type FailureKind = 'failed' | 'dead-letter'

/** One failed or dead-letter row as the scan reads it: only what its fingerprint and a group need. */
export interface FailureRow {
  id: string
  kind: FailureKind
  eventType: string | null
  /** The error's first READ_CHARS characters (the fingerprint reads no more). */
  error: string | null
  /** created_at as epoch ms (null without a time column). */
  atMs: number | null
  pattern: string
  fingerprint: string
}

export interface FailureGroup {
  fingerprint: string
  count: number
  failed: number
  deadLetter: number
  /** created_at of its oldest and newest row (ISO 8601), null without a time column. */
  firstSeen: string | null
  lastSeen: string | null
  eventTypes: string[]
  /** The error with its varying parts removed, as the fingerprint saw it. */
  pattern: string
  /** The first line of one row's error, as it was (cut to 200 characters). */
  sampleError: string | null
  sampleIds: string[]
}

export interface FailuresReport {
  table: string
  /** What the fingerprint is made of on this table. */
  basis: 'error and event type' | 'event type only' | 'error only' | 'nothing'
  /** Rows read (failed and dead-letter rows in the window). */
  scanned: number
  total: {failed: number; deadLetter: number}
  groups: FailureGroup[]
  /** More distinct groups than MAX_GROUPS: these rows are counted in total but in no group. */
  ungrouped: number
  /** The scan stopped at --limit rows. */
  limited: boolean
  window: {since: string | null; until: string | null}
  notes: string[]
}

/** Rows per keyset batch of the scan. */
export const SCAN_BATCH = 10_000
/** Distinct groups kept in memory; a table with more has no grouping worth the name. */
export const MAX_GROUPS = 10_000
const SAMPLE_IDS = 3
const EVENT_TYPES = 10

/** A point in time on the command line (`24h`, `2026-11-20 10:30`), checked before anything connects. */
export function parseWindow(since?: string, until?: string): {since?: TimeSpec; until?: TimeSpec} {
  return {since: since === undefined ? undefined : parseTimeSpec(since, '--since'), until: until === undefined ? undefined : parseTimeSpec(until, '--until')}
}

/** The window as the database's own DATETIME text, fixed once for the run (the database's clock and zone). */
export async function resolveWindow(sql: SqlExecutor, table: OutboxTable, window: {since?: TimeSpec; until?: TimeSpec}): Promise<{since?: string; until?: string}> {
  if (!window.since && !window.until) return {}
  if (!table.c.createdAt) throw new UsageError(`the outbox table "${table.name}" has no time column, so --since/--until cannot apply`, 'map outbox.columns.createdAt, or leave out --since and --until')
  const params: unknown[] = []
  const expr = (spec: TimeSpec | undefined) => {
    if (!spec) return 'NULL'
    params.push(spec.kind === 'ago' ? spec.ms * 1000 : spec.at)
    return spec.kind === 'ago' ? 'NOW(3) - INTERVAL ? MICROSECOND' : 'CAST(? AS DATETIME(3))'
  }
  const sinceSql = expr(window.since)
  const untilSql = expr(window.until)
  const [row] = await sql.query<{since: string | null; until: string | null}>(`SELECT DATE_FORMAT(${sinceSql}, ${TIME_TEXT}) AS since, DATE_FORMAT(${untilSql}, ${TIME_TEXT}) AS until`, params)
  return {since: row?.since ?? undefined, until: row?.until ?? undefined}
}

const TIME_TEXT = "'%Y-%m-%d %H:%i:%s.%f'"

/** The status value and extra condition of a kind of failure; null when this table cannot have that kind. */
function kindCondition(table: OutboxTable, kind: FailureKind): {status: StatusValue; extra: string | null} | null {
  if (kind === 'dead-letter') return {status: table.statuses.deadLetter, extra: null}
  if (table.c.attempts) return {status: table.statuses.pending, extra: `${table.c.attempts} >= 1`}
  if (table.c.lastError) return {status: table.statuses.pending, extra: `${table.c.lastError} IS NOT NULL`}
  return null
}

/** Where a keyset batch of one kind resumes: after this (created_at text, id), or after this id without a time column. */
export interface ScanCursor {
  at?: string
  id: string
}

/**
 * The index that serves the scan: the first whose columns begin with (status, created_at), or (status) without a time
 * column; null when there is none (the scan then reads more, and outbox failures says so).
 */
export async function failureIndex(sql: SqlExecutor, table: OutboxTable): Promise<string | null> {
  const wanted = table.names.createdAt ? [table.names.status, table.names.createdAt] : [table.names.status]
  const rows = await sql.query<{name: unknown; cols: unknown}>(
    'SELECT INDEX_NAME AS name, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR 0x00) AS cols FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? GROUP BY INDEX_NAME ORDER BY INDEX_NAME',
    [table.name],
  )
  const starts = (cols: string[]) => wanted.every((w, i) => cols[i]?.toLowerCase() === w.toLowerCase())
  const found = rows.find((r) => starts(String(r.cols).split('\0')))
  return found ? String(found.name) : null
}

/**
 * The SQL of one keyset batch of one kind: a range on the (status, created_at) index, in (created_at, id) order
 * (InnoDB secondary indexes end with the primary key, so no sort), only the columns a fingerprint needs, the error
 * cut to READ_CHARS. Without a time column: status = ? in id order (served by an index on status, whose entries end
 * with the id). The index is forced: MariaDB 10.11 otherwise prefers a ref on status alone once the dead letters are
 * most of the table, and walks every entry before the cursor again for each batch. Exported so that a test can EXPLAIN it.
 */
export function scanBatchSql(table: OutboxTable, kind: FailureKind, filter: FailureFilter, cursor: ScanCursor | undefined, limit: number, index: string | null = null): {sql: string; params: unknown[]} | null {
  const condition = kindCondition(table, kind)
  if (!condition) return null
  const {t, c} = table
  const where = [`${c.status} = ?`]
  const params: unknown[] = [condition.status]
  if (condition.extra) where.push(condition.extra)
  if (filter.eventType !== undefined) {
    where.push(c.eventType ? `${c.eventType} = ?` : 'FALSE')
    params.push(filter.eventType)
  }
  if (c.createdAt) {
    if (filter.since !== undefined) {
      where.push(`${c.createdAt} >= ?`)
      params.push(filter.since)
    }
    if (filter.until !== undefined) {
      where.push(`${c.createdAt} < ?`)
      params.push(filter.until)
    }
    if (cursor?.at !== undefined) {
      // The first condition is the index range; the second skips the rows of the cursor's own instant already read.
      where.push(`${c.createdAt} >= ? AND (${c.createdAt} > ? OR ${c.id} > ?)`)
      params.push(cursor.at, cursor.at, cursor.id)
    }
  } else if (cursor !== undefined) {
    where.push(`${c.id} > ?`)
    params.push(cursor.id)
  }
  const order = c.createdAt ? `${c.createdAt}, ${c.id}` : c.id
  const at = c.createdAt ? `DATE_FORMAT(${c.createdAt}, ${TIME_TEXT}) AS \`at\`, ROUND(UNIX_TIMESTAMP(${c.createdAt}) * 1000) AS \`atMs\`` : 'NULL AS `at`, NULL AS `atMs`'
  const hint = index === null ? '' : ` FORCE INDEX (${qid(index)})`
  const sql = `SELECT ${c.id} AS \`id\`, ${c.eventType ?? 'NULL'} AS \`eventType\`, ${c.routingKey ?? 'NULL'} AS \`routingKey\`, ${c.lastError ? `LEFT(${c.lastError}, 4096)` : 'NULL'} AS \`error\`, ${at} FROM ${t}${hint} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`
  params.push(limit)
  return {sql, params}
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

/**
 * Reads the failed and dead-letter rows of a filter in keyset batches, each kind on its own index range, and hands
 * each batch to onBatch with every row's fingerprint. The next batch is already being read while onBatch works on
 * this one. Stops after `limit` rows, or when signal is aborted (between batches).
 */
export async function scanFailures(
  sql: SqlExecutor,
  table: OutboxTable,
  filter: FailureFilter,
  onBatch: (rows: FailureRow[]) => Promise<void> | void,
  options: {limit?: number; batchSize?: number; signal?: AbortSignal; index?: string | null} = {},
): Promise<{scanned: number; limited: boolean}> {
  const index = options.index === undefined ? await failureIndex(sql, table) : options.index
  const limit = options.limit ?? Number.POSITIVE_INFINITY
  const batchSize = options.batchSize ?? SCAN_BATCH
  let scanned = 0
  for (const kind of filter.kinds) {
    const read = (cursor: ScanCursor | undefined) => {
      const q = scanBatchSql(table, kind, filter, cursor, Math.max(1, Math.min(batchSize, limit - scanned)), index)
      return q ? sql.query(q.sql, q.params) : Promise.resolve([])
    }
    if (scanned >= limit) break
    let pending = read(undefined)
    for (;;) {
      const rows = await pending
      if (rows.length === 0) break
      const last = rows.at(-1)!
      const cursor: ScanCursor = {at: last.at === null || last.at === undefined ? undefined : String(last.at), id: String(last.id)}
      const full = rows.length >= Math.min(batchSize, limit - scanned)
      scanned += rows.length
      const more = full && scanned < limit && !options.signal?.aborted
      if (more) pending = read(cursor)
      if (options.signal?.aborted) break
      await onBatch(rows.map((r) => toFailureRow(r, kind, table)))
      if (!more) break
    }
    if (options.signal?.aborted) break
  }
  return {scanned, limited: scanned >= limit}
}

function toFailureRow(r: Record<string, unknown>, kind: FailureKind, table: OutboxTable): FailureRow {
  const eventType = text(r.eventType)
  const error = text(r.error)
  const pattern = errorPattern(error)
  return {
    id: String(r.id),
    kind,
    eventType,
    error,
    atMs: r.atMs === null || r.atMs === undefined ? null : Number(r.atMs),
    pattern,
    fingerprint: fingerprintOfPattern(pattern, {subject: eventType ?? text(r.routingKey) ?? table.routingKey}),
  }
}

export interface FailuresOptions {
  config: Config
  /** Both kinds when not given. */
  kinds?: FailureKind[]
  since?: TimeSpec
  until?: TimeSpec
  eventType?: string
  /** Only this group (a fingerprint). */
  group?: string
  /** Read at most this many rows. */
  limit?: number
  /** Groups listed, biggest first (all by default). */
  top?: number
  signal?: AbortSignal
}

/** The kinds a --status flag names: failed, dead-letter (or any spelling parseStatus takes for it). */
export function parseKinds(input: string[] | undefined): FailureKind[] {
  if (!input || input.length === 0) return ['failed', 'dead-letter']
  return [...new Set(input.map((s) => {
    const key = s.trim().toLowerCase().replaceAll(/[-_]/g, '')
    if (key === 'failed') return 'failed' as const
    if (key === 'deadletter' || key === 'dead') return 'dead-letter' as const
    throw new UsageError(`--status "${s.slice(0, 40)}" is not a kind of failure`, 'use failed (pending rows with failed attempts) or dead-letter')
  }))]
}

/** A --group value: a fingerprint printed by outbox failures (or dlq inspect). */
export function checkGroup(group: string): string {
  if (!isFingerprint(group)) throw new UsageError(`--group "${group.slice(0, 40)}" is not a fingerprint`, 'use one printed by msgops outbox failures (8 hex characters)')
  return group
}

/** What this table's fingerprints are made of: said in the output, since a table without last_error groups coarsely. */
export function fingerprintBasis(table: OutboxTable): FailuresReport['basis'] {
  const subject = table.c.eventType !== null || table.c.routingKey !== null || table.routingKey !== null
  if (table.c.lastError) return subject ? 'error and event type' : 'error only'
  return subject ? 'event type only' : 'nothing'
}

/**
 * Failed and dead-letter rows grouped by fingerprint, biggest group first. One pass over the two index ranges
 * (never the sent rows); memory is bounded by MAX_GROUPS groups, whatever the number of rows.
 */
export async function outboxFailures(sql: SqlExecutor, options: FailuresOptions, progress?: ProgressCallback): Promise<FailuresReport> {
  const table = await resolveOutbox(sql, options.config)
  return failureGroups(sql, table, options, progress)
}

/** outboxFailures on a table already resolved (outbox status uses it for its top groups). */
export async function failureGroups(sql: SqlExecutor, table: OutboxTable, options: Omit<FailuresOptions, 'config'>, progress?: ProgressCallback): Promise<FailuresReport> {
  const kinds = options.kinds ?? ['failed', 'dead-letter']
  if (options.eventType !== undefined && !table.c.eventType)
    throw new UsageError(`the outbox table "${table.name}" has no event type column`, 'map outbox.columns.eventType, or leave out --event-type')
  const window = await resolveWindow(sql, table, {since: options.since, until: options.until})
  const basis = fingerprintBasis(table)
  const notes: string[] = []
  if (basis === 'event type only') notes.push(`the outbox table "${table.name}" has no last error column: rows are grouped by event type only`)
  if (basis === 'nothing') notes.push(`the outbox table "${table.name}" has no last error, event type or routing key column: every row is in one group`)
  if (kinds.includes('failed') && !table.c.attempts && !table.c.lastError) notes.push('no attempts or last error column: a failed pending row cannot be told from a new one, so only dead letters are read')
  if (!table.c.createdAt) notes.push(`the outbox table "${table.name}" has no time column: no first and last seen`)
  const index = await failureIndex(sql, table)
  if (index === null)
    notes.push(`no index on (${table.names.createdAt ? `${table.names.status}, ${table.names.createdAt}` : table.names.status}): every batch reads more of the table than it needs; create one, e.g. CREATE INDEX idx_outbox_status_created ON ${table.t} (${table.c.status}${table.c.createdAt ? `, ${table.c.createdAt}` : ''})`)
  const groups = new Map<string, FailureGroup & {firstMs: number | null; lastMs: number | null}>()
  const report: FailuresReport = {
    table: table.name, basis, scanned: 0, total: {failed: 0, deadLetter: 0}, groups: [], ungrouped: 0, limited: false,
    window: {since: window.since ?? null, until: window.until ?? null}, notes,
  }
  const {scanned, limited} = await scanFailures(sql, table, {kinds, since: window.since, until: window.until, eventType: options.eventType}, (rows) => {
    for (const row of rows) {
      if (options.group !== undefined && row.fingerprint !== options.group) continue
      if (row.kind === 'failed') report.total.failed++
      else report.total.deadLetter++
      let group = groups.get(row.fingerprint)
      if (!group) {
        if (groups.size >= MAX_GROUPS) {
          report.ungrouped++
          continue
        }
        group = {
          fingerprint: row.fingerprint, count: 0, failed: 0, deadLetter: 0, firstSeen: null, lastSeen: null, firstMs: null, lastMs: null,
          eventTypes: [], pattern: row.pattern, sampleError: row.error?.trim().split('\n')[0].slice(0, 200) ?? null, sampleIds: [],
        }
        groups.set(row.fingerprint, group)
      }
      group.count++
      if (row.kind === 'failed') group.failed++
      else group.deadLetter++
      if (row.atMs !== null) {
        if (group.firstMs === null || row.atMs < group.firstMs) group.firstMs = row.atMs
        if (group.lastMs === null || row.atMs > group.lastMs) group.lastMs = row.atMs
      }
      if (row.eventType !== null && group.eventTypes.length < EVENT_TYPES && !group.eventTypes.includes(row.eventType)) group.eventTypes.push(row.eventType)
      if (group.sampleIds.length < SAMPLE_IDS) group.sampleIds.push(row.id)
    }
    progress?.({done: report.total.failed + report.total.deadLetter + report.ungrouped, label: 'reading'})
  }, {limit: options.limit, signal: options.signal, index})
  report.scanned = scanned
  report.limited = limited
  const list = [...groups.values()].sort((a, b) => b.count - a.count || a.fingerprint.localeCompare(b.fingerprint))
  report.groups = list.slice(0, options.top ?? list.length).map(({firstMs, lastMs, ...g}) => ({
    ...g,
    firstSeen: firstMs === null ? null : new Date(firstMs).toISOString(),
    lastSeen: lastMs === null ? null : new Date(lastMs).toISOString(),
  }))
  return report
}

/** What a group action found in its first pass: the count its question names, and a sample. */
export interface GroupPlan {
  group: string
  matching: number
  pattern: string | null
  sampleError: string | null
  eventTypes: string[]
  sampleIds: string[]
  window: {since: string | null; until: string | null}
}

/** The dead-letter rows of one group, counted by a first pass; an unknown group (no row) is a usage error. */
export async function planGroup(sql: SqlExecutor, table: OutboxTable, options: GroupSelection): Promise<GroupPlan> {
  const report = await failureGroups(sql, table, {kinds: ['dead-letter'], group: checkGroup(options.group), since: options.since, until: options.until, eventType: options.eventType})
  const g = report.groups[0]
  if (!g) throw noSuchGroup(options)
  return {group: g.fingerprint, matching: g.count, pattern: g.pattern, sampleError: g.sampleError, eventTypes: g.eventTypes, sampleIds: g.sampleIds, window: report.window}
}

/** Which dead-letter rows a group action takes. */
export interface GroupSelection {
  group: string
  since?: TimeSpec
  until?: TimeSpec
  eventType?: string
}

function noSuchGroup(options: GroupSelection): UsageError {
  const narrowed = options.since || options.until || options.eventType !== undefined ? ' with these filters' : ''
  return new UsageError(`no dead-letter row is in failure group ${options.group}${narrowed}`, 'msgops outbox failures --status dead-letter lists the groups')
}

export interface GroupActionOptions extends GroupSelection {
  chunkSize: number
  /** Chunks acted on at once while the scan reads ahead (default 1). */
  inFlight?: number
  /**
   * Count the group in a first pass before asking (the question names the count). False when nobody is asked (--yes):
   * one pass then counts as it goes, and confirm is called (asking nobody) when the first row of the group is met.
   */
  countFirst: boolean
  signal?: AbortSignal
}

export interface GroupActionRun {
  /** With countFirst false, counted as the rows were met: all of them once the run went to its end. */
  plan: GroupPlan
  cancelled: boolean
  done: number
  interrupted: boolean
}

/**
 * A group action over the group's dead-letter rows in keyset batches, handed to act in chunks of chunkSize ids,
 * inFlight chunks at once while the next batch is read. A row acted on leaves the dead-letter range, so running the
 * action again resumes where it stopped; act re-checks each row (status, group) in its statement or under its lock.
 * An unknown group (no row) is a usage error, raised before confirm is called.
 */
export async function runGroupAction(
  sql: SqlExecutor,
  table: OutboxTable,
  options: GroupActionOptions,
  confirm: (plan: GroupPlan) => Promise<boolean>,
  act: (ids: string[]) => Promise<number>,
  progress?: ProgressCallback,
): Promise<GroupActionRun> {
  let plan: GroupPlan
  let asked: boolean | undefined
  if (options.countFirst) {
    plan = await planGroup(sql, table, options)
    asked = await confirm(plan)
    if (!asked) return {plan, cancelled: true, done: 0, interrupted: false}
  } else {
    const group = checkGroup(options.group)
    if (options.eventType !== undefined && !table.c.eventType)
      throw new UsageError(`the outbox table "${table.name}" has no event type column`, 'map outbox.columns.eventType, or leave out --event-type')
    const window = await resolveWindow(sql, table, {since: options.since, until: options.until})
    plan = {group, matching: 0, pattern: null, sampleError: null, eventTypes: [], sampleIds: [], window: {since: window.since ?? null, until: window.until ?? null}}
  }
  const counted = options.countFirst
  const stop = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal
  const max = Math.max(1, options.inFlight ?? 1)
  const running = new Set<Promise<void>>()
  let done = 0
  const launch = async (ids: string[]) => {
    while (running.size >= max) await Promise.race(running)
    const chunk: Promise<void> = act(ids)
      .then((n) => {
        done += n
        progress?.(counted ? {done, total: Math.max(done, plan.matching)} : {done})
      })
      .finally(() => running.delete(chunk))
    // Its error is taken by the race above or by the wait below, never left unhandled.
    chunk.catch(() => {})
    running.add(chunk)
  }
  const filter: FailureFilter = {kinds: ['dead-letter'], since: plan.window.since ?? undefined, until: plan.window.until ?? undefined, eventType: options.eventType}
  let failure: {error: unknown} | undefined
  try {
    await scanFailures(sql, table, filter, async (rows) => {
      const mine = rows.filter((r) => r.fingerprint === plan.group)
      if (!counted) for (const row of mine) countRow(plan, row)
      if (mine.length > 0 && asked === undefined) {
        asked = await confirm(plan)
        if (!asked) stop.abort()
      }
      for (let at = 0; at < mine.length && asked; at += options.chunkSize) {
        if (signal.aborted) return
        await launch(mine.slice(at, at + options.chunkSize).map((r) => r.id))
      }
    }, {signal})
  } catch (error) {
    failure = {error}
  }
  // The chunks in flight end before the run does, whatever stopped it (the scan's error first, else a chunk's).
  const failed = (await Promise.allSettled([...running])).find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failure) throw failure.error
  if (failed) throw failed.reason
  if (asked === undefined) throw noSuchGroup(options)
  return {plan, cancelled: !asked, done, interrupted: options.signal?.aborted === true}
}

/** A group row met by a counting-as-it-goes run, added to the plan as failureGroups would have counted it. */
function countRow(plan: GroupPlan, row: FailureRow): void {
  if (plan.matching === 0) {
    plan.pattern = row.pattern
    plan.sampleError = row.error?.trim().split('\n')[0].slice(0, 200) ?? null
  }
  plan.matching++
  if (row.eventType !== null && plan.eventTypes.length < EVENT_TYPES && !plan.eventTypes.includes(row.eventType)) plan.eventTypes.push(row.eventType)
  if (plan.sampleIds.length < SAMPLE_IDS) plan.sampleIds.push(row.id)
}
