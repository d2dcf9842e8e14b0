import type {Config} from '../../config/schema.js'
import {formatDuration} from '../duration.js'
import {keyColumnInfo} from '../introspect.js'
import type {SqlPort} from '../ports.js'
import {compareCache, type CacheCompared, ordersOf} from './cache.js'
import {
  candidateScan,
  CHECKS,
  type CheckName,
  findingScan,
  loadSchema,
  mergeColumns,
  type MergedCheck,
  mergePlan,
  oldestRows,
  orderIdEnds,
  orderTimes,
  ordersScan,
  type Schema,
  skipReason,
  scanOrders,
  type SqlCheck,
  windowCovers,
} from './checks.js'
import {splitScan} from './cut.js'
import {INTEGER_TYPES, type MergeColumns, keysMergeable, mergeKeys} from './merge.js'
import {OrderPage} from './packed-page.js'
import {type CheckResult, DEFAULT_BATCH, type ReconcileOptions, type ReconcilePorts, type ReconcileReport, type ReconcileWindow, sampleOf, Tally} from './report.js'
import {mapPages, packedPages, type ScanRow, type ScanSpec, scanPages} from './scan.js'
import {type Bounds, resolveBounds} from './window.js'

/** Keys per page of the merge plan, packed into one row (group_concat_max_len is raised to 2 MB for it). */
const MERGE_PAGE = 10_000

/** Ranges of the orders' ids scanned side by side for cache_drift. */
const CACHE_PARTS = 2

/** Candidates of a merged check verified in one query once this many are waiting (at most a page, --batch-size). */
const VERIFY_AT = 250

/** The SQL-only checks, most expensive first (measured by bench/reconcile.ts). */
const COST: CheckName[] = ['orphan_consumed', 'sent_not_consumed', 'order_without_message', 'consumed_failed', 'message_stuck', 'message_dead']

function describeWindow(bounds: Bounds, graceMs: number): ReconcileWindow {
  return {since: bounds.since, until: bounds.until, grace: formatDuration(graceMs), cutoff: bounds.cutoff, now: bounds.now}
}

/** The checks the merge plan answers (see mergePlan), and the key columns it reads; none when the keys cannot be merged. */
async function planMerge(
  sql: SqlPort,
  schema: Schema,
  runnable: CheckName[],
  plan: NonNullable<ReconcileOptions['plan']>,
  covers: (role: 'orders' | 'outbox' | 'inbox') => boolean,
): Promise<{merged: MergedCheck[]; columns?: MergeColumns}> {
  if (plan === 'lookup') return {merged: []}
  const merged = mergePlan(runnable, schema, plan === 'merge' ? {orders: true, outbox: true, inbox: true} : {orders: covers('orders'), outbox: covers('outbox'), inbox: covers('inbox')})
  if (merged.length === 0) return {merged}
  const columns = mergeColumns(schema, merged)
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
  return {merged, columns: read}
}

/**
 * Runs the selected checks over the window and reports each kind of discrepancy; changes nothing.
 * Lanes run side by side: the orders scan with Redis (order_without_message rides along when it is not merged), the
 * merge plan, and two workers taking the other checks in turn; every read is paginated, so memory holds a page or two
 * per lane whatever the size.
 */
export async function reconcile(ports: ReconcilePorts, config: Config, options: ReconcileOptions): Promise<ReconcileReport> {
  const started = Date.now()
  const batch = options.batchSize ?? DEFAULT_BATCH
  const checks = CHECKS.filter((c) => options.checks.includes(c))
  const schema = await loadSchema(ports.sql, config, checks)
  const [bounds, oldest] = await Promise.all([resolveBounds(ports.sql, options.since, options.until, options.graceMs), oldestRows(ports.sql, schema)])
  const results: Partial<Record<CheckName, CheckResult>> = {}
  const runnable: CheckName[] = []
  for (const check of checks) {
    const reason = skipReason(check, schema)
    if (reason) results[check] = {count: 0, oldest: null, samples: [], skipped: reason}
    else runnable.push(check)
  }
  if (runnable.includes('cache_drift') && !ports.cache) throw new Error('cache_drift needs a cache port')

  const orders = scanOrders(schema, bounds, oldest)
  const {merged, columns} = await planMerge(ports.sql, schema, runnable, options.plan ?? 'auto', (role) => windowCovers(bounds.since, oldest[role]))
  let done = 0
  const progress = (rows: number, label: string) => {
    done += rows
    options.onProgress?.({done, label})
  }

  const ordersLane = async () => {
    const withCache = runnable.includes('cache_drift')
    const withMessage = runnable.includes('order_without_message') && !merged.includes('order_without_message')
    if (!withCache) return
    const cache = new Tally(options.sample)
    const orphans = withMessage ? new Tally(options.sample) : null
    const spec = ordersScan(schema, bounds, {withMessage, withCache, order: orders.orders})
    const pattern = config.cache.keyPattern
    // An untimed scan did not read the times: the drifted orders' times are looked up a batch at a time.
    let untimed: CacheCompared[] = []
    const addUntimed = async () => {
      // Taken first: the page still in Redis may add to the list while the times are read.
      const taken = untimed
      untimed = []
      const times = await orderTimes(ports.sql, schema, taken.map((d) => d.id))
      for (const d of taken) cache.add({id: d.id, at: times.get(d.id) ?? null, detail: d.drift})
    }
    const compare = async (page: OrderPage, rows: ScanRow[] | null) => {
      const drifted = await compareCache(ports.cache!, pattern, page)
      if (spec.untimed) untimed.push(...drifted)
      else for (const d of drifted) cache.add(sampleOf(rows![d.n], d.drift))
      progress(page.count, 'orders')
    }
    const scan = async (part: ScanSpec) => {
      // Two pages in Redis at once: the next page's keys are sent while this page's answer is on its way.
      let previous: Promise<void> | null = null
      const pages = part.value
        ? packedPages(ports.sql, part, batch, options.signal)
        : mapPages(scanPages(ports.sql, part, batch, options.signal), (rows) => {
            if (orphans) for (const row of rows) if (Number(row.no_msg) === 1) orphans.add(sampleOf(row))
            return ordersOf(rows)
          })
      for await (const page of pages) {
        const current = page instanceof OrderPage ? compare(page, null) : compare(page.page, page.rows)
        current.catch(() => {})
        if (previous) await previous
        previous = current
        if (untimed.length >= batch) await addUntimed()
      }
      if (previous) await previous
    }
    // A scan in key order runs in ranges side by side (cut like the merge): one chain of pages leaves the database,
    // Redis and the client waiting on each other at every step.
    await Promise.all((spec.byKey ? splitScan(spec, await orderIdEnds(ports.sql, schema), CACHE_PARTS) : [spec]).map(scan))
    if (untimed.length > 0) await addUntimed()
    results.cache_drift = cache.result()
    if (orphans) results.order_without_message = orphans.result()
  }

  // The anti-joins over whole tables first, so that the cheap index lookups fill in behind them.
  const queue = [...runnable]
    .filter((c) => c !== 'cache_drift' && !merged.includes(c as MergedCheck) && !(c === 'order_without_message' && runnable.includes('cache_drift')))
    .sort((a, b) => COST.indexOf(a) - COST.indexOf(b))
  const sqlLane = async () => {
    for (let check = queue.shift(); check !== undefined; check = queue.shift()) {
      const tally = new Tally(options.sample)
      for await (const rows of scanPages(ports.sql, findingScan(check as SqlCheck, schema, bounds, orders), batch, options.signal)) {
        for (const row of rows) tally.add(sampleOf(row))
        progress(rows.length, check)
      }
      results[check] = tally.result()
    }
  }

  // The merged checks: one pass over the key columns, then each check's own SQL on the keys left without a partner.
  const mergeLane = async () => {
    if (merged.length === 0 || !columns) return
    const tallies = new Map(merged.map((c) => [c, new Tally(options.sample)]))
    const verify = async (check: MergedCheck, keys: string[] | null) => {
      for await (const rows of scanPages(ports.sql, candidateScan(check, schema, bounds, keys), batch, options.signal))
        for (const row of rows) tallies.get(check)!.add(sampleOf(row))
    }
    // Candidates are verified while the merge goes on, one query per check at a time: their rows are read at random
    // (from the disk when the tables outgrow the buffer pool), and left to the end they made a tail on one core.
    const pending = new Map(merged.map((c) => [c, new Set<string>()]))
    const running = new Map<MergedCheck, Promise<void>>()
    const flush = async (check: MergedCheck) => {
      const keys = pending.get(check)!
      // At most one verification per check in flight: a slow one holds the merge back rather than piling up keys.
      await running.get(check)
      const started = verify(check, [...keys])
      started.catch(() => {})
      running.set(check, started)
      keys.clear()
    }
    const found: Record<MergedCheck, 'ordersWithoutMessage' | 'unconsumed' | 'orphans'> = {
      order_without_message: 'ordersWithoutMessage',
      sent_not_consumed: 'unconsumed',
      orphan_consumed: 'orphans',
    }
    const mergePage = options.mergePage ?? MERGE_PAGE
    const flushAt = Math.min(batch, VERIFY_AT)
    await mergeKeys(
      ports.sql,
      columns,
      mergePage,
      async (range) => {
        for (const [check, keys] of pending) {
          for (const key of range[found[check]]) keys.add(key)
          if (keys.size >= flushAt) await flush(check)
        }
        progress(mergePage, 'merge')
      },
      options.signal,
    )
    // The rest side by side; a NULL key has no partner and no place in a merge: those rows go straight to the check's SQL.
    await Promise.all(
      merged.map(async (check) => {
        if (pending.get(check)!.size > 0) await flush(check)
        await running.get(check)
        if (check !== 'sent_not_consumed') await verify(check, null)
      }),
    )
    for (const [check, tally] of tallies) results[check] = tally.result()
  }

  // Four lanes: the orders scan with Redis, the merge, and two workers taking the SQL-only checks in turn.
  await Promise.all([ordersLane(), mergeLane(), sqlLane(), sqlLane()])
  const ordered: Partial<Record<CheckName, CheckResult>> = {}
  for (const check of checks) ordered[check] = results[check]
  return {
    window: describeWindow(bounds, options.graceMs),
    checks: ordered,
    merged: checks.filter((c) => merged.includes(c as MergedCheck)),
    total: Object.values(ordered).reduce((sum, r) => sum + (r?.count ?? 0), 0),
    durationMs: Date.now() - started,
  }
}
