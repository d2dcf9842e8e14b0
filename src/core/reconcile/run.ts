import type {Config} from '../../config/schema.js'
import {formatDuration} from '../duration.js'
import {keyColumnInfo} from '../introspect.js'
import type {SqlPort} from '../ports.js'
import {CHECKS, type CheckName, loadSchema, mergeColumns, type MergedCheck, mergePlan, oldestRows, type Schema, scanOrders, skipReason, windowCovers} from './checks.js'
import {assignLanes, type LaneContext, type LaneResults, runLanes} from './lanes.js'
import {INTEGER_TYPES} from '../introspect.js'
import {type MergeColumns, keysMergeable} from './merge.js'
import {DEFAULT_BATCH, type ReconcileOptions, type ReconcilePorts, type ReconcileReport, type ReconcileWindow} from './report.js'
import {type Bounds, resolveBounds} from './window.js'

/** Keys per page of the merge plan, packed into one row (group_concat_max_len is raised to 2 MB for it). */
const MERGE_PAGE = 10_000

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
 * Load the schema and the window, plan the merge, run the lanes side by side (lanes.ts: the orders scan with Redis,
 * the merge plan, two SQL lanes), assemble the report; every read is paginated, so memory holds a page or two per
 * lane whatever the size.
 */
export async function reconcile(ports: ReconcilePorts, config: Config, options: ReconcileOptions): Promise<ReconcileReport> {
  const started = Date.now()
  const checks = CHECKS.filter((c) => options.checks.includes(c))
  const schema = await loadSchema(ports.sql, config, checks)
  const [bounds, oldest] = await Promise.all([resolveBounds(ports.sql, options.since, options.until, options.graceMs), oldestRows(ports.sql, schema)])
  const skipped: LaneResults = {}
  for (const check of checks) {
    const reason = skipReason(check, schema)
    if (reason) skipped[check] = {count: 0, oldest: null, samples: [], skipped: reason}
  }
  const runnable = checks.filter((c) => skipped[c] === undefined)
  if (runnable.includes('cache_drift') && !ports.cache) throw new Error('cache_drift needs a cache port')

  const {merged, columns} = await planMerge(ports.sql, schema, runnable, options.plan ?? 'auto', (role) => windowCovers(bounds.since, oldest[role]))
  let done = 0
  const ctx: LaneContext = {
    sql: ports.sql,
    cache: ports.cache,
    keyPattern: config.cache.keyPattern,
    schema,
    bounds,
    orders: scanOrders(schema, bounds, oldest),
    batch: options.batchSize ?? DEFAULT_BATCH,
    sample: options.sample,
    mergePage: options.mergePage ?? MERGE_PAGE,
    signal: options.signal,
    progress: (rows, label) => {
      done += rows
      options.onProgress?.({done, label})
    },
  }
  const results = {...skipped, ...(await runLanes(ctx, assignLanes(runnable, merged), columns))}
  const ordered: LaneResults = {}
  for (const check of checks) ordered[check] = results[check]
  return {
    window: describeWindow(bounds, options.graceMs),
    checks: ordered,
    merged: checks.filter((c) => merged.includes(c as MergedCheck)),
    total: Object.values(ordered).reduce((sum, r) => sum + (r?.count ?? 0), 0),
    durationMs: Date.now() - started,
  }
}
