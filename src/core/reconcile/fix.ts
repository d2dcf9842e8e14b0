import type {Config} from '../../config/schema.js'
import type {Outcome} from '../outcome.js'
import {type CheckName, chooseScanOrders, findingScan, loadSchema, ordersScan, requeueDeadSql, requeueSentSql} from './checks.js'
import {compareCache, ordersOf} from './cache.js'
import {DEFAULT_BATCH, type ReconcileOptions, type ReconcilePorts, type ReconcileReport} from './report.js'
import {scanPages} from './scan.js'
import {resolveBounds} from './window.js'

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
            const update = check === 'sent_not_consumed' ? requeueSentSql(schema!, ids) : requeueDeadSql(schema!, ids)
            const {affectedRows} = await ports.sql.execute(update.sql, update.params)
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
