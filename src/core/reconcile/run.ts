import type {Config} from '../../config/schema.js'
import {formatDuration} from '../duration.js'
import {INTEGER_TYPES, keyColumnInfo} from '../introspect.js'
import type {SqlPort} from '../ports.js'
import {
  type Checkpoint,
  CHECKPOINT_TTL_MS,
  checkpointKey,
  configFingerprint,
  newRunId,
  partOf,
  type Position,
  readCheckpoint,
  RUN_PLAN_TTL_MS,
  type RunPlan,
  runPlanKey,
  type RunSpec,
} from './checkpoint.js'
import {CHECKS, type CheckName, loadSchema, mergeColumns, type MergedCheck, mergePlan, oldestRows, rangeRole, type Schema, scanOrders, skipReason, windowCovers} from './checks.js'
import {assignLanes, type LaneContext, type LaneResults, runLanes} from './lanes.js'
import {type MergeColumns, keysMergeable} from './merge.js'
import {chunkEnd, type CutColumn, cutKeys, isSmall, type KeyRange, type KeyRanges, type KeyRole} from './ranges.js'
import {addResults, DEFAULT_BATCH, type ReconcileOptions, type ReconcilePorts, type ReconcileReport, type ReconcileWindow} from './report.js'
import {Gate} from './throttle.js'
import {type Bounds, resolveBounds} from './window.js'

/** Keys per page of the merge plan, packed into one row (group_concat_max_len is raised to 2 MB for it). */
const MERGE_PAGE = 10_000

/**
 * Checks read by a status index (the candidates of the window, each row looked up): a chunk's key range does not
 * narrow that read, so each chunk read every candidate again (consumed_failed at 10,000,000 orders: 1 s a chunk,
 * 21.4 s of statements for 20 chunks against 2.8 s in one; measured). They run once, beside the part's first chunk,
 * over the part's whole range: the same findings, counted once, in the first checkpoint.
 */
const ONCE_PER_PART: CheckName[] = ['consumed_failed', 'message_stuck', 'message_dead']

/** Keys per table in the first chunk, and the bounds that --chunk-time moves the size within. */
export const FIRST_CHUNK = 50_000
const MIN_CHUNK = 1000
const MAX_CHUNK = 5_000_000

function describeWindow(bounds: Bounds, graceMs: number): ReconcileWindow {
  return {since: bounds.since, until: bounds.until, grace: formatDuration(graceMs), cutoff: bounds.cutoff, now: bounds.now}
}

/**
 * The next chunk's size, so that a chunk takes about --chunk-time (pt-table-checksum's rule: the keys per second of the
 * last chunk times the target), moving at most ×2 or ÷2 at a time so that one odd chunk does not swing it.
 *
 * | last chunk                         | next size                                   |
 * | ---------------------------------- | ------------------------------------------- |
 * | took no measurable time            | size × 2                                    |
 * | otherwise                          | size × target / elapsed                     |
 * | any                                | within [size ÷ 2, size × 2], then [1,000 (or size, when below), 5,000,000] |
 */
export function nextChunkSize(size: number, elapsedMs: number, targetMs: number): number {
  const ideal = elapsedMs <= 0 ? size * 2 : (size * targetMs) / elapsedMs
  return Math.round(Math.max(Math.min(MIN_CHUNK, size), Math.min(MAX_CHUNK, Math.max(size / 2, Math.min(size * 2, ideal)))))
}

/** The merge's key columns for these checks, read as the merge reads them; no check is merged when the keys cannot be (keysMergeable). */
async function planMerge(sql: SqlPort, schema: Schema, candidates: MergedCheck[]): Promise<{merged: MergedCheck[]; columns?: MergeColumns}> {
  if (candidates.length === 0) return {merged: []}
  const columns = mergeColumns(schema, candidates)
  const keys = (['outbox', 'orders', 'inbox'] as const).flatMap((role) => {
    const column = columns[role]
    return column ? [{role, column}] : []
  })
  const info = await keyColumnInfo(sql, keys.map((k) => k.column))
  if (!keysMergeable(info)) return {merged: []}
  const read: MergeColumns = {...columns, numeric: info.every((c) => INTEGER_TYPES.has(c.dataType.toLowerCase()))}
  for (const [n, {role, column}] of keys.entries()) {
    const narrow = info[n].narrow
    if (narrow !== null) read[role] = {...column, index: narrow}
  }
  return {merged: candidates, columns: read}
}

/** A table whose key column is cut into parts and walked in chunks. */
interface CutTable {
  role: KeyRole
  col: CutColumn
  small: boolean
}

/**
 * The key columns a run cuts: orders.id, outbox.id, inbox.messageId; the inbox goes by the outbox's cuts (`shared`)
 * when its message ids compare like the outbox ids (the merge needs one key space), else by its own.
 */
async function cutTables(sql: SqlPort, schema: Schema): Promise<{tables: CutTable[]; shared: boolean}> {
  const wanted: {role: KeyRole; table: string; column: string}[] = []
  if (schema.orders) wanted.push({role: 'orders', table: schema.orders.name, column: schema.orders.names.id})
  if (schema.outbox) wanted.push({role: 'outbox', table: schema.outbox.name, column: schema.outbox.names.id})
  if (schema.inbox) wanted.push({role: 'inbox', table: schema.inbox.name, column: schema.inbox.names.messageId})
  const info = await keyColumnInfo(sql, wanted)
  const at = (role: KeyRole) => wanted.findIndex((w) => w.role === role)
  const shared = at('outbox') >= 0 && at('inbox') >= 0 && keysMergeable([info[at('outbox')], info[at('inbox')]])
  const tables: CutTable[] = []
  for (const [n, w] of wanted.entries()) {
    if (w.role === 'inbox' && shared) continue
    const col = {table: w.table, column: w.column, numeric: INTEGER_TYPES.has(info[n].dataType.toLowerCase())}
    tables.push({role: w.role, col, small: await isSmall(sql, col)})
  }
  return {tables, shared}
}

/**
 * Runs the selected checks over the window and reports each kind of discrepancy; changes nothing.
 * Load the schema, pass the throttle (replica lag, load), plan the run (window, merge, cuts: shared by the parts of a
 * run through the store, or taken from the checkpoint with --resume), then walk the part's key ranges chunk by chunk:
 * each chunk runs the lanes side by side (lanes.ts) over its ranges, adds up its findings, saves the checkpoint and
 * passes the throttle again. Every read is paginated, so memory holds a page or two per lane whatever the size.
 */
export async function reconcile(ports: ReconcilePorts, config: Config, options: ReconcileOptions): Promise<ReconcileReport> {
  const started = Date.now()
  const read = ports.replica?.sql ?? ports.sql
  const checks = CHECKS.filter((c) => options.checks.includes(c))
  const schema = await loadSchema(read, config, checks)
  const gate = new Gate(
    {primary: ports.sql, replica: ports.replica && {sql: ports.replica.sql, name: ports.replica.name, heartbeat: ports.replica.heartbeat}},
    options.throttle ?? {maxLoad: 0, maxLagS: 30, maxLagWaitMs: 300_000},
    (reason) => options.onNote?.(reason === null ? 'going on: the pause is over' : `paused: ${reason}`),
    options.signal,
  )
  const lagS = await gate.pass()
  // The grace is widened by the lag (rounded up, and a second for Seconds_Behind_Master's rounding): rows the replica may not have yet are not flagged.
  const widenedMs = ports.replica ? Math.ceil(lagS) * 1000 + 1000 : 0

  const skipped: LaneResults = {}
  for (const check of checks) {
    const reason = skipReason(check, schema)
    if (reason) skipped[check] = {count: 0, oldest: null, samples: [], skipped: reason}
  }
  const runnable = checks.filter((c) => skipped[c] === undefined)
  if (runnable.includes('cache_drift') && !ports.cache) throw new Error('cache_drift needs a cache port')

  const spec: RunSpec = {checks, since: options.since, until: options.until, graceMs: options.graceMs, sample: options.sample, plan: options.plan}
  const fingerprint = configFingerprint(config, spec)
  const {store} = ports
  const prefix = ports.storePrefix ?? ''
  const cpKey = checkpointKey(prefix, config, spec, options.part)
  let checkpoint: Checkpoint | undefined
  if (options.resume && store) {
    const found = readCheckpoint(await store.get(cpKey), fingerprint)
    if (found.note) options.onNote?.(found.note)
    checkpoint = found.checkpoint
  }
  const chunked = (options.chunkTimeMs ?? 0) > 0
  const ranged = chunked || options.part !== undefined
  // A whole run in one chunk reads no ranges: the same statements as before there were parts.
  const [{tables, shared}, oldest] = await Promise.all([ranged ? cutTables(read, schema) : {tables: [], shared: false}, oldestRows(read, schema)])

  /** The window, the merge and the cuts: this run's own, or those of the first part of the run when it is a part. */
  const freshPlan = async (): Promise<RunPlan> => {
    const bounds = await resolveBounds(ports.sql, options.since, options.until, options.graceMs + widenedMs)
    const wanted = options.plan ?? 'auto'
    const covers = (role: 'orders' | 'outbox' | 'inbox') => wanted === 'merge' || windowCovers(bounds.since, oldest[role])
    const candidates = wanted === 'lookup' ? [] : mergePlan(runnable, schema, {orders: covers('orders'), outbox: covers('outbox'), inbox: covers('inbox')})
    const {merged} = await planMerge(read, schema, candidates)
    const cuts: RunPlan['cuts'] = {}
    if (options.part) for (const t of tables) cuts[t.role] = await cutKeys(read, t.col, options.part.count)
    return {run: newRunId(), bounds, merged, cuts}
  }
  const sharedPlan = async (): Promise<RunPlan> => {
    if (!options.part || !store) return freshPlan()
    const key = runPlanKey(prefix, config, spec, options.part.count)
    const existing = await store.get(key)
    if (existing) return JSON.parse(existing) as RunPlan
    const plan = await freshPlan()
    if (await store.setIfAbsent(key, JSON.stringify(plan), RUN_PLAN_TTL_MS)) return plan
    // Another part planned at the same moment: its plan is the run's.
    return JSON.parse((await store.get(key)) ?? JSON.stringify(plan)) as RunPlan
  }
  const plan = checkpoint?.plan ?? (await sharedPlan())
  const {merged, columns} = await planMerge(read, schema, plan.merged)

  const numeric = (role: KeyRole) => tables.find((t) => t.role === role)?.col.numeric ?? false
  const partRanges: Partial<Record<KeyRole, KeyRange>> = {}
  for (const t of tables) partRanges[t.role] = partOf(plan.cuts[t.role], options.part, t.col.numeric)
  if (shared && partRanges.outbox) partRanges.inbox = partRanges.outbox

  const positions: Partial<Record<KeyRole, Position>> = checkpoint?.positions ?? Object.fromEntries(tables.map((t) => [t.role, {after: partRanges[t.role]!.after, done: false, started: false}]))
  let results: LaneResults = checkpoint?.results ?? {}
  let size = checkpoint?.chunkSize ?? options.chunkSize ?? FIRST_CHUNK
  const resumed = checkpoint?.chunks ?? 0
  const late = {count: checkpoint?.late ?? 0}
  const keep = options.sample
  let chunks = 0
  let done = 0
  const ctx: Omit<LaneContext, 'bounds'> = {
    sql: read,
    primary: ports.replica ? ports.sql : undefined,
    late,
    cache: ports.cache,
    keyPattern: config.cache.keyPattern,
    schema,
    orders: scanOrders(schema, plan.bounds, oldest),
    batch: options.batchSize ?? DEFAULT_BATCH,
    sample: options.sample,
    mergePage: options.mergePage ?? MERGE_PAGE,
    signal: options.signal,
    progress: (rows, label) => {
      done += rows
      options.onProgress?.({done, label})
    },
  }
  /** The role whose position a check's range follows: the inbox follows the outbox when they share cuts. */
  const follows = (check: CheckName): KeyRole => {
    const role = rangeRole(check, (merged as CheckName[]).includes(check))
    return role === 'inbox' && shared ? 'outbox' : role
  }
  const pending = () => tables.some((t) => !positions[t.role]!.done)
  // The part's whole ranges, for the checks that run once per part (ONCE_PER_PART).
  const partKeys: KeyRanges = {}
  for (const t of tables) partKeys[t.role] = {...partRanges[t.role]!, numeric: t.col.numeric}
  if (shared && partKeys.outbox) partKeys.inbox = partKeys.outbox
  // A run with nothing to cut (no table mapped that a check reads) still runs its one chunk.
  for (let first = true; first || pending(); first = false) {
    if (chunks > 0) await gate.pass()
    const chunkStarted = Date.now()
    const keys: KeyRanges = {}
    // The tables' chunk ends side by side: each is a chain of index dives, and the lanes wait for them.
    const ends = await Promise.all(
      tables.map((t) => {
        const pos = positions[t.role]!
        const range = partRanges[t.role]!
        if (pos.done) return undefined
        return chunked ? chunkEnd(read, t.col, pos.after, range.upTo, size, t.small) : range.upTo
      }),
    )
    for (const [n, t] of tables.entries()) {
      const pos = positions[t.role]!
      const range = partRanges[t.role]!
      if (pos.done) continue
      keys[t.role] = {after: pos.after, upTo: ends[n] ?? null, nulls: range.nulls && !pos.started, numeric: t.col.numeric}
    }
    if (shared && keys.outbox) keys.inbox = keys.outbox
    const inChunk = runnable.filter((check) => {
      const pos = positions[follows(check)]
      return pos ? !pos.done : chunks + resumed === 0
    })
    const bounds: Bounds = ranged ? {...plan.bounds, keys} : plan.bounds
    const once = chunked ? inChunk.filter((c) => ONCE_PER_PART.includes(c)) : []
    const perChunk = inChunk.filter((c) => !once.includes(c))
    const lanes = (list: CheckName[], on: Bounds) => (list.length === 0 ? {} : runLanes({...ctx, bounds: on}, assignLanes(list, merged.filter((c) => list.includes(c))), columns))
    const [found, foundOnce] = await Promise.all([lanes(perChunk, bounds), chunks + resumed === 0 ? lanes(once, {...plan.bounds, keys: partKeys}) : {}])
    Object.assign(found, foundOnce)
    for (const [check, result] of Object.entries(found) as [CheckName, NonNullable<LaneResults[CheckName]>][]) results[check] = addResults(results[check], result, keep)
    for (const t of tables) {
      const range = keys[t.role]
      if (!range) continue
      positions[t.role] = {after: range.upTo, started: true, done: range.upTo === partRanges[t.role]!.upTo}
    }
    chunks++
    if (chunked) size = nextChunkSize(size, Date.now() - chunkStarted, options.chunkTimeMs!)
    if (store && pending()) {
      const saved: Checkpoint = {version: 2, fingerprint, plan, positions, results, chunks: resumed + chunks, chunkSize: size, late: late.count}
      await store.set(cpKey, JSON.stringify(saved), CHECKPOINT_TTL_MS)
    }
  }
  if (store) await store.delete(cpKey)

  const ordered: LaneResults = {}
  for (const check of checks) ordered[check] = skipped[check] ?? results[check] ?? {count: 0, oldest: null, samples: []}
  results = ordered
  const partRangesOut: KeyRanges = {}
  for (const [role, range] of Object.entries(partRanges)) partRangesOut[role as KeyRole] = {after: range.after, upTo: range.upTo, nulls: range.nulls, numeric: numeric(role as KeyRole)}
  return {
    window: describeWindow(plan.bounds, options.graceMs),
    checks: ordered,
    merged: checks.filter((c) => merged.includes(c as MergedCheck)),
    total: Object.values(ordered).reduce((sum, r) => sum + (r?.count ?? 0), 0),
    durationMs: Date.now() - started,
    ...(options.part ? {part: {index: options.part.index, count: options.part.count, run: plan.run, ranges: partRangesOut}} : {}),
    chunks: {read: chunks, resumed},
    ...(ports.replica ? {replica: {url: ports.replica.url, lagS, widenedMs, late: late.count}} : {}),
    pausedMs: gate.pausedMs,
  }
}
