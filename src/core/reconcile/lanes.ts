import type {SqlPort} from '../ports.js'
import {type CacheCompared, compareCache, ordersOf} from './cache.js'
import {candidateScan, type CheckName, findingScan, type MergedCheck, orderIdEnds, orderTimes, ordersScan, type Schema, type ScanOrder} from './checks.js'
import {splitScan} from './cut.js'
import {type MergeColumns, mergeKeys} from './merge.js'
import {OrderPage} from './packed-page.js'
import type {CachePort} from './ports.js'
import {type CheckResult, sampleOf, Tally} from './report.js'
import {fragment, mapPages, packedPages, type ScanRow, type ScanSpec, scanPages} from './scan.js'
import type {Bounds} from './window.js'

/** What every lane reads from: the ports, the schema and window of the run, its page sizes. */
export interface LaneContext {
  /** Where the scans read: a replica, or the primary. */
  sql: SqlPort
  /** Set when sql is a replica: every candidate finding is checked again here before it counts (confirmed). */
  primary?: SqlPort
  /** Candidates the primary did not confirm: only late on the replica. */
  late?: {count: number}
  /** Needed by the orders lane. */
  cache?: CachePort
  keyPattern: string
  schema: Schema
  bounds: Bounds
  orders: Partial<Record<'orders' | 'outbox', ScanOrder>>
  /** Rows per SQL page and keys per Redis pipeline. */
  batch: number
  /** Sample ids kept per check. */
  sample: number
  /** Keys per page of the merge plan. */
  mergePage: number
  signal?: AbortSignal
  progress(rows: number, label: string): void
}

export type LaneResults = Partial<Record<CheckName, CheckResult>>

/** A check the SQL lanes take: SQL alone decides it (order_without_message too, when no other lane takes it). */
export type SqlLaneCheck = Exclude<CheckName, 'cache_drift'>

/** Which lane runs which check (see assignLanes). */
export interface LanePlan {
  /** The orders scan with Redis (cache_drift), with order_without_message riding along when `message`; null: no such lane. */
  orders: {message: boolean} | null
  /** The checks the merge plan answers. */
  merge: MergedCheck[]
  /** The checks the SQL lanes take in turn, most expensive first. */
  sql: SqlLaneCheck[]
}

/** Ranges of the orders' ids scanned side by side for cache_drift. */
const CACHE_PARTS = 2

/** Candidates of a merged check verified in one query once this many are waiting (at most a page, --batch-size). */
const VERIFY_AT = 250

/** Workers taking the SQL-only checks in turn. */
const SQL_LANES = 2

/** The SQL-only checks, most expensive first (measured by bench/reconcile.ts): the anti-joins over whole tables first, so that the cheap index lookups fill in behind them. */
const COST: SqlLaneCheck[] = ['orphan_consumed', 'sent_not_consumed', 'order_without_message', 'consumed_failed', 'message_stuck', 'message_dead']

/**
 * Which lane runs each runnable check, given the checks the merge plan answers (mergePlan, keysMergeable).
 *
 * | check                                         | merged | cache_drift runs | lane                              |
 * | --------------------------------------------- | ------ | ---------------- | --------------------------------- |
 * | cache_drift                                   | -      | yes              | orders (with Redis)               |
 * | order_without_message                         | yes    | any              | merge                             |
 * | order_without_message                         | no     | yes              | orders (rides along on the scan)  |
 * | order_without_message                         | no     | no               | sql                               |
 * | sent_not_consumed, orphan_consumed            | yes    | any              | merge                             |
 * | sent_not_consumed, orphan_consumed            | no     | any              | sql                               |
 * | message_stuck, message_dead, consumed_failed  | -      | any              | sql                               |
 * The sql lanes take their checks in COST order; a check not runnable is in no lane.
 */
export function assignLanes(runnable: CheckName[], merged: MergedCheck[]): LanePlan {
  const withCache = runnable.includes('cache_drift')
  const isMerged = (c: CheckName) => (merged as CheckName[]).includes(c)
  const rides = (c: CheckName) => c === 'order_without_message' && withCache && !isMerged(c)
  return {
    orders: withCache ? {message: runnable.some(rides)} : null,
    merge: merged.filter((c) => runnable.includes(c)),
    sql: COST.filter((c) => runnable.includes(c) && !isMerged(c) && !rides(c)),
  }
}

/**
 * Runs the lanes side by side: the orders scan with Redis, the merge, and the SQL lanes taking their checks in turn.
 * The first lane to fail stops the others at their next page (so that no query outlives the run) and its error is
 * the run's; an abort of ctx.signal (Ctrl-C, a lost lock) stops them all with the signal's reason.
 */
export async function runLanes(ctx: LaneContext, plan: LanePlan, columns: MergeColumns | undefined): Promise<LaneResults> {
  const stop = new AbortController()
  const lanes = {...ctx, signal: ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal}
  let failure: {error: unknown} | undefined
  const guarded = (lane: Promise<LaneResults>) =>
    lane.catch((error: unknown) => {
      failure ??= {error}
      stop.abort(error)
      return {}
    })
  const queue = [...plan.sql]
  const results = await Promise.all([
    guarded(plan.orders ? ordersLane(lanes, plan.orders.message) : Promise.resolve({})),
    guarded(plan.merge.length > 0 && columns ? mergeLane(lanes, plan.merge, columns) : Promise.resolve({})),
    ...Array.from({length: SQL_LANES}, () => guarded(sqlLane(lanes, queue))),
  ])
  if (failure) throw failure.error
  return Object.assign({}, ...results)
}

/** The SQL lane: takes the next check from the queue (shared with the other SQL lane) until none is left. */
export async function sqlLane(ctx: LaneContext, queue: SqlLaneCheck[]): Promise<LaneResults> {
  const results: LaneResults = {}
  for (let check = queue.shift(); check !== undefined; check = queue.shift()) {
    const tally = new Tally(ctx.sample)
    const spec = findingScan(check, ctx.schema, ctx.bounds, ctx.orders)
    for await (const rows of scanPages(ctx.sql, spec, ctx.batch, ctx.signal)) {
      for (const row of await confirmed(ctx, spec, rows)) tally.add(sampleOf(row))
      ctx.progress(rows.length, check)
    }
    results[check] = tally.result()
  }
  return results
}

/** The orders lane: the orders scan compared with Redis (cache_drift), order_without_message riding along when asked. */
export async function ordersLane(ctx: LaneContext, withMessage: boolean): Promise<LaneResults> {
  const {sql, schema, batch} = ctx
  const redis = ctx.cache
  if (!redis) throw new Error('cache_drift needs a cache port')
  const cache = new Tally(ctx.sample)
  const orphans = withMessage ? new Tally(ctx.sample) : null
  const spec = ordersScan(schema, ctx.bounds, {withMessage, withCache: true, order: ctx.orders.orders})
  const pendingOrphans: Promise<void>[] = []
  // An untimed scan did not read the times: the drifted orders' times are looked up a batch at a time.
  let untimed: CacheCompared[] = []
  const addUntimed = async () => {
    // Taken first: the page still in Redis may add to the list while the times are read.
    const taken = untimed
    untimed = []
    const times = await orderTimes(sql, schema, taken.map((d) => d.id))
    for (const d of taken) cache.add({id: d.id, at: times.get(d.id) ?? null, detail: d.drift})
  }
  const compare = async (page: OrderPage, rows: ScanRow[] | null) => {
    const drifted = await compareCache(redis, ctx.keyPattern, page)
    if (ctx.primary && drifted.length > 0) for (const [d, row] of await confirmedDrift(ctx, redis, drifted.map((x) => x.id))) cache.add(sampleOf(row, d.drift))
    else if (rows === null) untimed.push(...drifted)
    else for (const d of drifted) cache.add(sampleOf(rows[d.n], d.drift))
    ctx.progress(page.count, 'orders')
  }
  const scan = async (part: ScanSpec) => {
    // Two pages in Redis at once: the next page's keys are sent while this page's answer is on its way.
    let previous: Promise<void> | null = null
    const pages = part.value
      ? packedPages(sql, part, batch, ctx.signal)
      : mapPages(scanPages(sql, part, batch, ctx.signal), (rows) => {
          if (orphans) {
            const lacking = rows.filter((row) => Number(row.no_msg) === 1)
            // Confirmed on the primary while the page is compared with Redis; counted before the lane ends.
            if (lacking.length > 0) pendingOrphans.push(confirmed(ctx, findingScan('order_without_message', ctx.schema, ctx.bounds), lacking).then((kept) => kept.forEach((row) => orphans.add(sampleOf(row)))))
          }
          return ordersOf(rows)
        })
    for await (const page of pages) {
      const current = page instanceof OrderPage ? compare(page, null) : compare(page.page, spec.untimed ? null : page.rows)
      current.catch(() => {})
      if (previous) await previous
      previous = current
      if (untimed.length >= batch) await addUntimed()
    }
    if (previous) await previous
  }
  // A scan in key order runs in ranges side by side (cut like the merge): one chain of pages leaves the database,
  // Redis and the client waiting on each other at every step.
  await Promise.all((spec.byKey ? splitScan(spec, await orderIdEnds(sql, schema, ctx.bounds), CACHE_PARTS) : [spec]).map(scan))
  if (untimed.length > 0) await addUntimed()
  await Promise.all(pendingOrphans)
  return {cache_drift: cache.result(), ...(orphans ? {order_without_message: orphans.result()} : {})}
}

/** The merge lane: one pass over the key columns, then each check's own SQL on the keys left without a partner. */
export async function mergeLane(ctx: LaneContext, merged: MergedCheck[], columns: MergeColumns): Promise<LaneResults> {
  const tallies = new Map(merged.map((c) => [c, new Tally(ctx.sample)] as const))
  // The candidates' own SQL is the final check (a candidate is only a key without a partner): on the primary when
  // the keys came from a replica.
  const verify = async (check: MergedCheck, tally: Tally, keys: string[] | null) => {
    for await (const rows of scanPages(ctx.primary ?? ctx.sql, candidateScan(check, ctx.schema, ctx.bounds, keys), ctx.batch, ctx.signal)) for (const row of rows) tally.add(sampleOf(row))
  }
  // Candidates are verified while the merge goes on, one query per check at a time: their rows are read at random
  // (from the disk when the tables outgrow the buffer pool), and left to the end they made a tail on one core.
  const lanes = [...tallies].map(([check, tally]) => ({check, tally, pending: new Set<string>(), running: Promise.resolve()}))
  const flush = async (lane: (typeof lanes)[number]) => {
    // At most one verification per check in flight: a slow one holds the merge back rather than piling up keys.
    await lane.running
    const started = verify(lane.check, lane.tally, [...lane.pending])
    started.catch(() => {})
    lane.running = started
    lane.pending.clear()
  }
  const found: Record<MergedCheck, 'ordersWithoutMessage' | 'unconsumed' | 'orphans'> = {
    order_without_message: 'ordersWithoutMessage',
    sent_not_consumed: 'unconsumed',
    orphan_consumed: 'orphans',
  }
  const flushAt = Math.min(ctx.batch, VERIFY_AT)
  await mergeKeys(
    ctx.sql,
    columns,
    ctx.mergePage,
    async (range) => {
      for (const lane of lanes) {
        for (const key of range[found[lane.check]]) lane.pending.add(key)
        if (lane.pending.size >= flushAt) await flush(lane)
      }
      ctx.progress(ctx.mergePage, 'merge')
    },
    ctx.signal,
    ctx.bounds.keys?.outbox,
  )
  // The rest side by side; a NULL key has no partner and no place in a merge: those rows go straight to the check's SQL
  // (in the range that holds the NULLs, the first).
  const nulls = ctx.bounds.keys?.outbox?.nulls ?? true
  await Promise.all(
    lanes.map(async (lane) => {
      if (lane.pending.size > 0) await flush(lane)
      await lane.running
      if (lane.check !== 'sent_not_consumed' && nulls) await verify(lane.check, lane.tally, null)
    }),
  )
  return Object.fromEntries([...tallies].map(([check, tally]) => [check, tally.result()]))
}

/** A key tuple of a scan row, to match rows of two reads of one spec. */
function keyOf(spec: ScanSpec, row: ScanRow): string {
  return spec.keys.map((_k, n) => String(row[`_k${n}`])).join('\u0000')
}

/**
 * The rows of a page read on a replica that are findings on the primary too (the same spec, for their keys): the
 * primary's rows, so that a row only late on the replica never counts. Without a primary (reading it already), the rows.
 */
export async function confirmed(ctx: LaneContext, spec: ScanSpec, rows: ScanRow[]): Promise<ScanRow[]> {
  if (!ctx.primary || rows.length === 0) return rows
  const ids = [...new Set(rows.map((r) => String(r._k0)))]
  const wanted = new Set(rows.map((r) => keyOf(spec, r)))
  const out: ScanRow[] = []
  for await (const page of scanPages(ctx.primary, {...spec, byKey: false, where: [...spec.where, fragment(`${spec.keys[0]} IN (?)`, ids)]}, ctx.batch, ctx.signal))
    for (const row of page) if (wanted.has(keyOf(spec, row))) out.push(row)
  if (ctx.late) ctx.late.count += rows.length - out.length
  return out
}

/** Drifted orders read on a replica, read again on the primary and compared with Redis again: those that still drift, with their rows. */
async function confirmedDrift(ctx: LaneContext, redis: CachePort, ids: string[]): Promise<[CacheCompared, ScanRow][]> {
  const primary = ctx.primary!
  const o = ctx.schema.orders!
  const spec = ordersScan(ctx.schema, ctx.bounds, {withMessage: false, withCache: true})
  const rows: ScanRow[] = []
  for await (const page of scanPages(primary, {...spec, where: [...spec.where, fragment(`o.${o.c.id} IN (?)`, ids)]}, ctx.batch, ctx.signal)) rows.push(...page)
  const {page, rows: kept} = ordersOf(rows)
  const again = await compareCache(redis, ctx.keyPattern, page)
  if (ctx.late) ctx.late.count += ids.length - again.length
  return again.map((d) => [d, kept[d.n]])
}
