import {listAudit, type AuditRecord} from '../audit.js'
import type {SqlExecutor} from '../ports.js'
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

/** The last reconcile from the audit table (the newest record, and the newest that completed). */
export async function readLastReconcile(sql: SqlExecutor, auditTable: string): Promise<ReconcileFigures> {
  const {records} = await listAudit(sql, auditTable, {command: 'reconcile', limit: RECENT})
  const completed = records.find((r) => r.exitCode === 0 || r.exitCode === 1)
  return {last: records[0] ? reconcileRun(records[0]) : null, lastSuccess: completed ? reconcileRun(completed) : null}
}
