import {CHECK_DESCRIPTIONS, type CheckName} from '../core/reconcile/checks.js'
import type {Config} from '../config/schema.js'
import {fixAction, type FixableCheck, type FixReport} from '../core/reconcile/fix.js'
import type {ReconcileReport} from '../core/reconcile/report.js'
import {type Metric, METRICS} from './metrics.js'
import {paint} from './color.js'
import {renderTable} from './table.js'
import type {Service} from './target.js'

/** Database times to the millisecond for reading; the JSON keeps them whole. */
function ms(time: string | null): string {
  return time === null ? '' : time.replace(/(\.\d{3})\d+$/, '$1')
}

function samplesText(report: ReconcileReport, check: CheckName): string {
  const r = report.checks[check]
  if (!r) return ''
  if (r.skipped) return `skipped: ${r.skipped}`
  return r.samples.map((s) => (s.detail ? `${s.id} (${s.detail})` : s.id)).join(', ')
}

/** One line per check: count, oldest and sample ids; then the total. */
export function renderReconcile(report: ReconcileReport): string {
  const w = report.window
  const header = `window ${ms(w.since)} → ${ms(w.until ?? w.now)} · grace ${w.grace} (rows after ${ms(w.cutoff)} not flagged)`
  const rows = (Object.keys(report.checks) as CheckName[]).map((check) => {
    const r = report.checks[check]!
    const count = r.skipped ? paint('dim', '-') : r.count === 0 ? paint('green', '0') : paint('red', String(r.count))
    return [check, count, ms(r.oldest), samplesText(report, check)]
  })
  const table = renderTable(['check', 'count', 'oldest', 'samples'], rows, {shrink: [3]})
  const summary = report.total === 0 ? paint('green', 'no discrepancies') : paint('red', `${report.total} discrepanc${report.total === 1 ? 'y' : 'ies'} found`)
  return [header, ...runLines(report), table, `${summary} in ${(report.durationMs / 1000).toFixed(1)}s`].join('\n')
}

/** The part, the replica, the chunks and the pauses of a run, when there is something to say about them. */
function runLines(report: ReconcileReport): string[] {
  const lines: string[] = []
  if (report.part) lines.push(`part ${report.part.index}/${report.part.count} of run ${report.part.run} (its key ranges only: join the parts with msgops reconcile merge)`)
  const r = report.replica
  if (r)
    lines.push(`read from the replica ${r.url} (lag ${r.lagS}s at the start, grace widened by ${r.widenedMs / 1000}s); findings confirmed on the primary${r.late > 0 ? `, ${r.late} only late on the replica and not reported` : ''}`)
  const chunks = report.chunks
  if (chunks && (chunks.read > 1 || chunks.resumed > 0)) lines.push(`${chunks.read} chunk${chunks.read === 1 ? '' : 's'} read${chunks.resumed > 0 ? `, ${chunks.resumed} taken from the checkpoint (--resume)` : ''}`)
  if (report.pausedMs) lines.push(`paused ${(report.pausedMs / 1000).toFixed(1)}s on load or replica lag`)
  return lines
}

export function renderFixes(fixes: FixReport): string {
  const rows = Object.entries(fixes.checks).map(([check, f]) => [check, f.action, fixes.dryRun && !f.note ? `would fix ${f.fixed}` : String(f.fixed), f.notFixed ? String(f.notFixed) : '', f.note ?? ''])
  const head = fixes.dryRun ? 'dry run: nothing was changed' : fixes.interrupted ? paint('yellow', 'interrupted: fixes stopped between batches') : 'fixes'
  return `${head}\n${renderTable(['check', 'action', 'fixed', 'not fixed', 'note'], rows, {shrink: [4, 1]})}`
}

export function describeChecks(): string {
  return Object.entries(CHECK_DESCRIPTIONS)
    .map(([name, text]) => `  ${name}: ${text}`)
    .join('\n')
}

/**
 * Findings per check, duration and the time of this successful run, for node_exporter's textfile collector; a part's
 * carry a `part` label ("2/4"), so that the N parts' files of one run sit side by side in one collector directory.
 */
export function reconcileMetrics(report: ReconcileReport, finishedAtMs: number): Metric[] {
  const part: Record<string, string> = report.part ? {part: `${report.part.index}/${report.part.count}`} : {}
  const labels = report.part ? {labels: part} : {}
  return [
    {
      ...METRICS.reconcileFindings,
      samples: Object.entries(report.checks)
        .filter(([, r]) => !r?.skipped)
        .map(([check, r]) => ({labels: {check, ...part}, value: r!.count})),
    },
    {...METRICS.reconcileDuration, samples: [{...labels, value: report.durationMs / 1000}]},
    {
      ...METRICS.reconcileLastSuccess,
      samples: [{...labels, value: Math.floor(finishedAtMs / 1000)}],
    },
  ]
}

/** The confirmation of --fix names every change that is about to be made. */
export function fixQuestion(report: ReconcileReport, actionable: FixableCheck[], config: Config, has: {drain: boolean; fixDead: boolean}, target: (service: Service) => string): string {
  const parts = actionable.map((check) => {
    const plus = check === 'message_stuck' && actionable.some((c) => c === 'sent_not_consumed' || c === 'message_dead') ? ' + the rows set back to pending' : ''
    return `${check} (${report.checks[check]!.count}${plus}): ${fixAction(check, config, has).action}`
  })
  // message_stuck is among them whenever rows are set back to pending: they are drained to RabbitMQ at once.
  const services: Service[] = ['mysql', ...(actionable.includes('message_stuck') ? ['amqp' as const] : []), ...(actionable.includes('cache_drift') ? ['redis' as const] : [])]
  return `Repair ${parts.join('; ')} — in ${services.map(target).join(', ')}?`
}
