import type {Config} from '../../config/schema.js'
import type {Outcome} from '../outcome.js'
import {compareCache, ordersOf} from './cache.js'
import {type CheckName, chooseScanOrders, findingScan, loadSchema, ordersScan, requeueDeadSql, requeueSentSql, type Schema, type ScanOrder} from './checks.js'
import type {KeyRanges} from './ranges.js'
import {DEFAULT_BATCH, type ReconcileOptions, type ReconcilePorts, type ReconcileReport} from './report.js'
import {type Fragment, type ScanRow, type ScanSpec, scanPages} from './scan.js'
import {type Bounds, resolveBounds} from './window.js'

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
  /** The key ranges of the part whose findings these are. */
  keys?: KeyRanges
  /** A cache key of another Redis type than cache.format's: replaced (the default) or kept and reported as not fixed. */
  cacheWrongType?: 'keep' | 'replace'
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

/** What a fix reads its findings again from, and what it does with them, a page at a time. */
interface FixContext {
  ports: ReconcilePorts
  config: Config
  cacheWrongType: 'keep' | 'replace'
  schema: Schema
  bounds: Bounds
  orders: Partial<Record<'orders' | 'outbox', ScanOrder>>
  signal?: AbortSignal
}

/** What a fixer did with one page of findings: rows or keys changed, found but left, the ids it changed, why some were left. */
interface PageFix {
  fixed: number
  notFixed: number
  ids: string[]
  /** Keys of another Redis type left as they are (--cache-wrong-type keep). */
  wrongTypeLeft?: number
}

interface Fixer {
  /** The findings, read again. */
  scan(x: FixContext): ScanSpec
  fix(x: FixContext, rows: ScanRow[]): Promise<PageFix>
}

const idsOf = (rows: ScanRow[]) => rows.map((r) => String(r._k0))

/** Rows set back to pending by an UPDATE that re-checks the finding's condition. */
function requeueFixer(check: 'sent_not_consumed' | 'message_dead', update: (schema: Schema, ids: string[]) => Fragment): Fixer {
  return {
    scan: (x) => findingScan(check, x.schema, x.bounds, x.orders),
    async fix(x, rows) {
      const ids = idsOf(rows)
      const {sql, params} = update(x.schema, ids)
      const {affectedRows} = await x.ports.sql.execute(sql, params)
      return {fixed: affectedRows, notFixed: ids.length - affectedRows, ids}
    },
  }
}

/** One fixer per fixable check (fixAction says when each applies). */
const FIXERS: Record<FixableCheck, Fixer> = {
  sent_not_consumed: requeueFixer('sent_not_consumed', requeueSentSql),
  message_dead: requeueFixer('message_dead', requeueDeadSql),
  message_stuck: {
    scan: (x) => findingScan('message_stuck', x.schema, x.bounds, x.orders),
    async fix(x, rows) {
      const {drain} = x.ports
      if (!drain) throw new Error('message_stuck needs a drain port')
      const ids = idsOf(rows)
      const outcome = await drain(ids, x.signal)
      return {fixed: outcome.sent, notFixed: outcome.failed, ids}
    },
  },
  cache_drift: {
    scan: (x) => ordersScan(x.schema, x.bounds, {withMessage: false, withCache: true, order: x.orders.orders}),
    async fix(x, rows) {
      const {cache} = x.ports
      if (!cache) throw new Error('cache_drift needs a cache port')
      const found = await compareCache(cache, x.config.cache.keyPattern, ordersOf(rows).page)
      // With keep, a key of another Redis type is left as it is (and counted), whatever the fix would have done.
      const keep = x.cacheWrongType === 'keep'
      const kept = keep ? found.filter((d) => d.read.state === 'invalid' && d.read.wrongType !== undefined) : []
      const drifted = keep ? found.filter((d) => !kept.includes(d)) : found
      if (x.config.cache.onDrift === 'delete') {
        const present = drifted.filter((d) => d.read.state !== 'missing')
        if (present.length > 0) await cache.remove(present.map((d) => d.key))
        return {fixed: present.length, notFixed: found.length - present.length, ids: present.map((d) => d.id), wrongTypeLeft: kept.length}
      }
      const writes = drifted.flatMap((d) => (d.status === null ? [] : [{key: d.key, value: d.status}]))
      const removes = drifted.filter((d) => d.status === null).map((d) => d.key)
      // A key that turned into another type between the read and the write is left too (keep) and counted.
      const left = writes.length > 0 ? (await cache.write(writes, x.cacheWrongType)).left : []
      if (removes.length > 0) await cache.remove(removes)
      const leftKeys = new Set(left)
      const changed = drifted.filter((d) => !leftKeys.has(d.key))
      return {fixed: changed.length, notFixed: kept.length + left.length, ids: changed.map((d) => d.id), wrongTypeLeft: kept.length + left.length}
    },
  },
}

/**
 * Repairs what can be repaired: every fixable check is scanned again (the world moved since the report) and each
 * page is fixed as it is read, by the check's fixer; SQL fixes re-check their condition in the UPDATE itself. Stops
 * between pages on abort.
 */
export async function fixFindings(ports: ReconcilePorts, config: Config, options: FixOptions, report: ReconcileReport): Promise<FixReport> {
  const out: FixReport = {dryRun: options.dryRun, interrupted: false, checks: {}}
  const todo = FIXABLE.filter((c) => options.fix.includes(c))
  if (todo.length === 0) return out
  const batch = options.batchSize ?? DEFAULT_BATCH
  const schema = await loadSchema(ports.sql, config, [...todo])
  // A part fixes its own key ranges only (its report's part.ranges).
  const bounds = {...(await resolveBounds(ports.sql, options.since, options.until, options.graceMs)), keys: options.keys}
  const x: FixContext = {ports, config, cacheWrongType: options.cacheWrongType ?? 'replace', schema, bounds, orders: await chooseScanOrders(ports.sql, schema, bounds), signal: options.signal}
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
    const fixer = FIXERS[check]
    let wrongTypeLeft = 0
    try {
      for await (const rows of scanPages(ports.sql, fixer.scan(x), batch)) {
        if (options.signal?.aborted) {
          out.interrupted = true
          break
        }
        const page = await fixer.fix(x, rows)
        result.fixed += page.fixed
        result.notFixed += page.notFixed
        for (const id of page.ids) if (result.ids.length < keepIds) result.ids.push(id)
        wrongTypeLeft += page.wrongTypeLeft ?? 0
        done += rows.length
        options.onProgress?.({done, label: `fix ${check}`})
      }
    } catch (error) {
      // A fix that failed half-way still reports (and the command audits) what it changed.
      result.note = `stopped: ${(error as Error).message}`
      throw Object.assign(error as Error, {partialFix: out})
    }
    if (wrongTypeLeft > 0) result.note = wrongTypeNote(wrongTypeLeft)
  }
  return out
}

/** Why keys of another Redis type were left: they are findings still, and the run says how to replace them. */
export function wrongTypeNote(count: number): string {
  return `left ${count} key${count === 1 ? '' : 's'} of another Redis type as they are (--cache-wrong-type keep): run again with --cache-wrong-type replace to rewrite them`
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
