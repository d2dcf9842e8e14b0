import {listAudit, type AuditRecord} from '../audit.js'
import type {SqlExecutor} from '../ports.js'
import {METRICS} from './metric-names.js'
import type {ReconcileFigures, ReconcileRun} from './model.js'

/** Audit records read to find the newest completed reconcile behind failed ones. */
const RECENT = 10

/** One reconcile audit record as figures: findings per check (outcome.found), its duration when recorded. */
export function reconcileRun(record: AuditRecord): ReconcileRun {
  const found = record.outcome.found
  const findings: Record<string, number> = {}
  if (found && typeof found === 'object') for (const [check, n] of Object.entries(found)) if (typeof n === 'number') findings[check] = n
  const duration = record.outcome.durationMs
  const error = record.outcome.error
  return {
    id: record.id,
    at: record.at,
    exitCode: record.exitCode,
    durationMs: typeof duration === 'number' ? duration : null,
    findings,
    total: Object.values(findings).reduce((a, b) => a + b, 0),
    host: record.host,
    ...(typeof error === 'string' ? {error} : {}),
  }
}

/**
 * The run that `reconcile --metrics-file` wrote (its findings per check, duration and time of completion), from the
 * Prometheus text; null when the text holds no completion time.
 */
export function parseReconcileMetrics(text: string): ReconcileRun | null {
  const findings: Record<string, number> = {}
  let at: number | undefined
  let durationS: number | undefined
  for (const line of text.split('\n')) {
    const m = /^(msgops_reconcile_\w+)(?:\{check="([^"\\]*)"\})?\s+(\S+)$/.exec(line.trim())
    if (!m) continue
    const value = Number(m[3])
    if (m[1] === METRICS.reconcileFindings.name && m[2] !== undefined) findings[m[2]] = value
    else if (m[1] === METRICS.reconcileDuration.name) durationS = value
    else if (m[1] === METRICS.reconcileLastSuccess.name) at = value
  }
  if (at === undefined || !Number.isFinite(at)) return null
  const total = Object.values(findings).reduce((a, b) => a + b, 0)
  return {id: 'metrics-file', at: new Date(at * 1000).toISOString(), exitCode: total > 0 ? 1 : 0, durationMs: durationS === undefined ? null : Math.round(durationS * 1000), findings, total, host: ''}
}

const newer = (a: ReconcileRun | null, b: ReconcileRun | null) => (!a ? b : !b ? a : Date.parse(b.at) > Date.parse(a.at) ? b : a)

/**
 * The last reconcile: from the audit table (runs with --fix are audited; the newest record and the newest that
 * completed), and from the file of `reconcile --metrics-file` when one is given (a reading run writes only that),
 * whichever is newer.
 */
export async function readLastReconcile(sql: SqlExecutor, auditTable: string, metricsFile?: () => Promise<string | null>): Promise<ReconcileFigures> {
  const [{records}, text] = await Promise.all([listAudit(sql, auditTable, {command: 'reconcile', limit: RECENT}), metricsFile ? metricsFile() : null])
  const completed = records.find((r) => r.exitCode === 0 || r.exitCode === 1)
  const fromFile = text === null ? null : parseReconcileMetrics(text)
  return {last: newer(records[0] ? reconcileRun(records[0]) : null, fromFile), lastSuccess: newer(completed ? reconcileRun(completed) : null, fromFile)}
}
