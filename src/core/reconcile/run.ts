import type {Config} from '../../config/schema.js'
import {formatDuration} from '../duration.js'
import type {Outcome} from '../outcome.js'
import type {ProgressCallback, SqlPort} from '../ports.js'
import {
  candidateScan,
  CHECKS,
  type CheckName,
  chooseScanOrders,
  findingScan,
  loadSchema,
  mergeColumns,
  type MergedCheck,
  mergePlan,
  oldestRows,
  orderIdEnds,
  orderTimes,
  ordersScan,
  requeueDeadSql,
  requeueSentSql,
  type Schema,
  skipReason,
  scanOrders,
  type SqlCheck,
  windowCovers,
} from './checks.js'
import {splitScan} from './cut.js'
import {keyColumnInfo} from '../introspect.js'
import {INTEGER_TYPES, type MergeColumns, keysMergeable, mergeKeys} from './merge.js'
import {type CachePort, type CacheRead, cacheKeys, type DrainPort} from './ports.js'
import {OrderPage} from './packed-page.js'
import {mapPages, packedPages, type ScanRow, type ScanSpec, scanPages, text} from './scan.js'
import {type Bounds, resolveBounds, type TimeSpec} from './window.js'

export interface Sample {
  id: string
  /** The row's timestamp (database time), or null when the table has none. */
  at: string | null
  detail?: string
}

export interface CheckResult {
  count: number
  oldest: string | null
  samples: Sample[]
  /** Set when the check could not run on this schema; count is then 0. */
  skipped?: string
}

export interface ReconcileWindow {
  since: string
  until: string | null
  grace: string
  /** Rows at or before this time are past the grace period. */
  cutoff: string
  now: string
}

export interface ReconcileReport {
  window: ReconcileWindow
  checks: Partial<Record<CheckName, CheckResult>>
  /** The checks answered by the merge plan (the others: one lookup per row). */
  merged: CheckName[]
  total: number
  durationMs: number
}

export interface ReconcileOptions {
  checks: CheckName[]
  since: TimeSpec
  until?: TimeSpec
  graceMs: number
  /** Sample ids kept per check. */
  sample: number
  /** Rows per SQL page and keys per Redis pipeline. */
  batchSize?: number
  /**
   * How order_without_message, sent_not_consumed and orphan_consumed find rows without a partner: 'lookup' (an index
   * lookup per row), 'merge' (the key columns read once and compared, see merge.ts) or 'auto' (merge when the window
   * covers the tables, the default). Both give the same findings.
   */
  plan?: 'auto' | 'lookup' | 'merge'
  /** Keys per page of the merge plan (default 10,000). */
  mergePage?: number
  signal?: AbortSignal
  onProgress?: ProgressCallback
}

export interface ReconcilePorts {
  sql: SqlPort
  /** Needed for cache_drift. */
  cache?: CachePort
  /** Needed to fix message_stuck; without it the rows are reported as not fixed. */
  drain?: DrainPort
}

export const DEFAULT_BATCH = 10_000

/** Keys per page of the merge plan, packed into one row (group_concat_max_len is raised to 2 MB for it). */
const MERGE_PAGE = 10_000

/** Ranges of the orders' ids scanned side by side for cache_drift. */
const CACHE_PARTS = 2

/** Candidates of a merged check verified in one query once this many are waiting (at most a page, --batch-size). */
const VERIFY_AT = 250

/** The SQL-only checks, most expensive first (measured by bench/reconcile.ts). */
const COST: CheckName[] = ['orphan_consumed', 'sent_not_consumed', 'order_without_message', 'consumed_failed', 'message_stuck', 'message_dead']

/**
 * Keeps the count, the oldest time and the oldest samples (by time, then id) of a check, whatever the number of
 * findings and whatever order they are found in (time order, key order or merged candidates).
 */
export class Tally {
  count = 0
  oldest: string | null = null
  private samples: Sample[] = []
  constructor(private readonly keep: number) {}

  add(sample: Sample): void {
    this.count++
    if (sample.at !== null && (this.oldest === null || sample.at < this.oldest)) this.oldest = sample.at
    if (this.keep === 0) return
    this.samples.push(sample)
    if (this.samples.length >= this.keep * 2 + 64) this.trim()
  }

  result(): CheckResult {
    this.trim()
    return {count: this.count, oldest: this.oldest, samples: this.samples}
  }

  private trim(): void {
    this.samples.sort(bySampleAge)
    this.samples.length = Math.min(this.samples.length, this.keep)
  }
}

/** Oldest first; a sample without a time after those with one; then by id. */
function bySampleAge(a: Sample, b: Sample): number {
  if (a.at !== b.at) return a.at === null ? 1 : b.at === null ? -1 : a.at < b.at ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * What a cache entry must be compared with, and whether it drifted.
 *
 * | order status | cache            | drift? | detail                       |
 * | ------------ | ---------------- | ------ | ---------------------------- |
 * | S            | missing          | yes    | missing                      |
 * | S            | value S          | no     |                              |
 * | S            | value V ≠ S      | yes    | cache=V db=S                 |
 * | any          | unreadable       | yes    | the reason (wrong type, …)   |
 * | NULL         | missing          | no     |                              |
 * | NULL         | value V          | yes    | cache=V db=NULL              |
 */
export function cacheDrift(dbStatus: string | null, read: CacheRead): string | null {
  if (read.state === 'invalid') return read.reason
  if (read.state === 'missing') return dbStatus === null ? null : 'missing'
  if (dbStatus !== null && read.value === dbStatus) return null
  return `cache=${clip(read.value)} db=${dbStatus ?? 'NULL'}`
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 39)}…` : text
}

function sampleOf(row: ScanRow, detail?: string): Sample {
  const d = detail ?? text(row.detail) ?? undefined
  return {id: String(row._k0), at: row._ts, ...(d === undefined ? {} : {detail: d})}
}

interface CacheCompared {
  /** The order's place in its page. */
  n: number
  id: string
  key: string
  status: string | null
  read: CacheRead
  drift: string
}

/** A page of scanned rows as orders to compare (the rows updated within the grace period left out), and the rows kept. */
function ordersOf(rows: ScanRow[]): {page: OrderPage; rows: ScanRow[]} {
  // No settled column: the scan's WHERE already left out the orders updated within the grace period.
  const kept = rows.some((r) => r.settled !== undefined && Number(r.settled) !== 1) ? rows.filter((r) => Number(r.settled) === 1) : rows
  return {page: OrderPage.of(kept.map((r) => String(r._k0)), kept.map((r) => text(r.order_status))), rows: kept}
}

/** Reads the keys of one page of orders in one request and returns the drifted ones. */
async function compareCache(cache: CachePort, pattern: string, page: OrderPage): Promise<CacheCompared[]> {
  if (page.count === 0) return []
  const reads = await cache.readDiffering(pattern, page)
  // Made only for a page with drift: most pages have none.
  let key: ((id: string) => string) | undefined
  const drifted: CacheCompared[] = []
  for (let n = 0; n < page.count; n++) {
    const read = reads[n]
    // null: the key holds exactly the order's status.
    if (read === null) continue
    const status = page.status(n)
    const drift = cacheDrift(status, read)
    if (drift === null) continue
    key ??= cacheKeys(pattern)
    drifted.push({n, id: page.id(n), key: key(page.id(n)), status, read, drift})
  }
  return drifted
}

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
  const roles = (['outbox', 'orders', 'inbox'] as const).filter((role) => columns[role] !== undefined)
  const info = await keyColumnInfo(sql, roles.map((role) => columns[role]!))
  if (!keysMergeable(info)) return {merged: []}
  const read: MergeColumns = {...columns, numeric: info.every((c) => INTEGER_TYPES.has(c.dataType.toLowerCase()))}
  for (const [n, role] of roles.entries()) if (info[n].narrow !== null) read[role] = {...columns[role]!, index: info[n].narrow!}
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

/** In the order fixes run: rows set back to pending first, so that the drain of stuck rows publishes them in the same run and no fix undoes another. */
export const FIXABLE = ['sent_not_consumed', 'message_dead', 'message_stuck', 'cache_drift'] as const
export type FixableCheck = (typeof FIXABLE)[number]

export interface FixResult {
  /** What the fix does (or would do). */
  action: string
  /** Rows or keys changed; with --dry-run, how many would be (the findings). */
  fixed: number
  /** Rows or keys found again but not changed (a drain that failed, a missing key in delete mode). */
  notFixed: number
  /** Why the findings were not fixed, when they were not. */
  note?: string
  /** The first ids fixed, for the audit record. */
  ids: string[]
}

export interface FixReport {
  dryRun: boolean
  interrupted: boolean
  checks: Partial<Record<FixableCheck, FixResult>>
}

export interface FixOptions extends ReconcileOptions {
  /** Only these checks are fixed (those with findings, in the command). */
  fix: FixableCheck[]
  /** message_dead is set back to pending only when asked for explicitly. */
  fixDead: boolean
  dryRun: boolean
}

/**
 * The repair of each check.
 *
 * | check             | fix                                                                  | condition          |
 * | ----------------- | -------------------------------------------------------------------- | ------------------ |
 * | message_stuck     | drained through the DrainPort (the code of `outbox drain`)          | a DrainPort given  |
 * | sent_not_consumed | set back to pending (consumers discard duplicates by message id)      | always             |
 * | message_dead      | set back to pending, attempts 0                                       | --fix-dead         |
 * | cache_drift       | rewrite the value from MySQL, or delete the key (cache.onDrift)       | always             |
 * | the others        | reported, never invented                                             | —                  |
 */
export function fixAction(check: FixableCheck, config: Config, has: {drain: boolean; fixDead: boolean}): {action: string; note?: string} {
  switch (check) {
    case 'message_stuck':
      return has.drain ? {action: 'drain (publish with confirms)'} : {action: 'none', note: 'not fixed: drain with `msgops outbox drain`'}
    case 'sent_not_consumed':
      return {action: 'set back to pending'}
    case 'message_dead':
      return has.fixDead ? {action: 'set back to pending'} : {action: 'none', note: 'not fixed: pass --fix-dead to set dead letters back to pending'}
    case 'cache_drift':
      return config.cache.onDrift === 'delete' ? {action: 'delete the key'} : {action: 'rewrite from MySQL'}
  }
}

/**
 * What a --fix run repairs, from the report.
 *
 * | check             | repaired when                                                                        |
 * | ----------------- | ------------------------------------------------------------------------------------ |
 * | any fixable check | it has findings                                                                      |
 * | message_stuck     | also without findings, when it ran and rows are about to be set back to pending       |
 * |                   | (sent_not_consumed found, or message_dead found with --fix-dead): they are drained too |
 *
 * `actionable` leaves out the checks whose fix does nothing here (fixAction gives a note): the confirmation and the
 * audit record are about those only.
 */
export function selectFixes(report: ReconcileReport, config: Config, has: {drain: boolean; fixDead: boolean}): {fixable: FixableCheck[]; actionable: FixableCheck[]} {
  const found = (c: CheckName) => (report.checks[c]?.count ?? 0) > 0
  const requeues = found('sent_not_consumed') || (has.fixDead && found('message_dead'))
  const stuckRan = report.checks.message_stuck !== undefined && !report.checks.message_stuck.skipped
  const fixable = FIXABLE.filter((c) => found(c) || (c === 'message_stuck' && stuckRan && requeues))
  return {fixable, actionable: fixable.filter((c) => !fixAction(c, config, has).note)}
}

/**
 * Repairs what can be repaired: every fixable check is scanned again (the world moved since the report) and each
 * page is fixed as it is read; SQL fixes re-check their condition in the UPDATE itself. Stops between pages on abort.
 */
export async function fixFindings(ports: ReconcilePorts, config: Config, options: FixOptions, report: ReconcileReport): Promise<FixReport> {
  const out: FixReport = {dryRun: options.dryRun, interrupted: false, checks: {}}
  const todo = FIXABLE.filter((c) => options.fix.includes(c))
  const batch = options.batchSize ?? DEFAULT_BATCH
  const schema = todo.length > 0 ? await loadSchema(ports.sql, config, [...todo]) : null
  const bounds = schema ? await resolveBounds(ports.sql, options.since, options.until, options.graceMs) : null
  const orders = schema && bounds ? await chooseScanOrders(ports.sql, schema, bounds) : null
  const keepIds = Math.max(options.sample, 20)
  let done = 0
  for (const check of todo) {
    const {action, note} = fixAction(check, config, {drain: ports.drain !== undefined, fixDead: options.fixDead})
    const found = report.checks[check]?.count ?? 0
    const result: FixResult = {action, fixed: 0, notFixed: 0, ids: [], ...(note ? {note} : {})}
    out.checks[check] = result
    if (note) {
      result.notFixed = found
      continue
    }
    if (options.dryRun) {
      result.fixed = found
      continue
    }
    if (out.interrupted) continue
    const remember = (ids: string[]) => {
      for (const id of ids) if (result.ids.length < keepIds) result.ids.push(id)
    }
    const spec =
      check === 'cache_drift' ? ordersScan(schema!, bounds!, {withMessage: false, withCache: true, order: orders!.orders}) : findingScan(check, schema!, bounds!, orders!)
    try {
      for await (const rows of scanPages(ports.sql, spec, batch)) {
        if (options.signal?.aborted) {
          out.interrupted = true
          break
        }
        if (check === 'cache_drift') {
          const drifted = await compareCache(ports.cache!, config.cache.keyPattern, ordersOf(rows).page)
          if (config.cache.onDrift === 'delete') {
            const present = drifted.filter((d) => d.read.state !== 'missing')
            if (present.length > 0) await ports.cache!.remove(present.map((d) => d.key))
            result.fixed += present.length
            result.notFixed += drifted.length - present.length
            remember(present.map((d) => d.id))
          } else {
            const writes = drifted.filter((d) => d.status !== null).map((d) => ({key: d.key, value: d.status!}))
            const removes = drifted.filter((d) => d.status === null).map((d) => d.key)
            if (writes.length > 0) await ports.cache!.write(writes)
            if (removes.length > 0) await ports.cache!.remove(removes)
            result.fixed += drifted.length
            remember(drifted.map((d) => d.id))
          }
        } else {
          const ids = rows.map((r) => String(r._k0))
          if (check === 'message_stuck') {
            const outcome = await ports.drain!(ids, options.signal)
            result.fixed += outcome.sent
            result.notFixed += outcome.failed
          } else {
            const update = check === 'sent_not_consumed' ? requeueSentSql(schema!, ids.length) : requeueDeadSql(schema!, ids.length)
            const {affectedRows} = await ports.sql.execute(update.sql, [...update.params, ...ids])
            result.fixed += affectedRows
            result.notFixed += ids.length - affectedRows
          }
          remember(ids)
        }
        done += rows.length
        options.onProgress?.({done, label: `fix ${check}`})
      }
    } catch (error) {
      // A fix that failed half-way still reports (and the command audits) what it changed.
      result.note = `stopped: ${(error as Error).message}`
      throw Object.assign(error as Error, {partialFix: out})
    }
  }
  return out
}

/**
 * The checks whose findings a --fix run left in place: not fixable here (reported, never invented), not selected,
 * fixed with a note (no drain, no --fix-dead), or with rows or keys it found again but could not change.
 */
export function leftAfterFix(report: ReconcileReport, fixes: FixReport): CheckName[] {
  return (Object.keys(report.checks) as CheckName[]).filter((check) => {
    if ((report.checks[check]?.count ?? 0) === 0) return false
    const fix = fixes.checks[check as FixableCheck]
    return fix === undefined || fix.note !== undefined || fix.notFixed > 0
  })
}

/**
 * The outcome of a reconcile run (exit codes in core/outcome.ts): a --fix that repaired everything it found is ok,
 * as `terraform apply` is; findings left in place are found (no fix asked, a dry run, a declined fix) or partial.
 *
 * | run                       | findings | left after the fixes | outcome     |
 * | ------------------------- | -------- | -------------------- | ----------- |
 * | fix interrupted           | any      | any                  | interrupted |
 * | any                       | none     | -                    | ok          |
 * | no --fix, or --dry-run    | some     | -                    | found       |
 * | --fix declined            | some     | -                    | found       |
 * | --fix applied             | some     | none                 | ok          |
 * | --fix applied             | some     | some                 | partial     |
 */
export function reconcileOutcome(report: ReconcileReport, fixes: FixReport | undefined, applied: boolean): Outcome {
  if (fixes?.interrupted) return 'interrupted'
  if (report.total === 0) return 'ok'
  if (!fixes || !applied || fixes.dryRun) return 'found'
  return leftAfterFix(report, fixes).length > 0 ? 'partial' : 'ok'
}
