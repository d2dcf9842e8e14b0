import type {DiscardResult} from '../core/outbox/discard.js'
import type {EditResult} from '../core/outbox/edit.js'
import type {FailureGroup, FailuresReport, GroupPlan} from '../core/outbox/failures.js'
import type {GroupRequeueResult} from '../core/outbox/requeue.js'
import {paint} from './color.js'
import type {Service} from './target.js'
import {renderTable} from './table.js'
import {humanTime} from './time.js'

const n = (value: number) => value.toLocaleString('en-US')
const rows = (k: number) => `${n(k)} row${k === 1 ? '' : 's'}`

/** The groups of outbox failures, biggest first, with the command that acts on the first one. */
export function renderFailures(report: FailuresReport): string {
  const lines: string[] = []
  const total = report.total.failed + report.total.deadLetter
  const window = report.window.since || report.window.until ? ` created ${report.window.since ? `from ${report.window.since}` : ''}${report.window.until ? ` before ${report.window.until}` : ''}` : ''
  lines.push(`outbox ${report.table}: ${rows(total)} in ${n(report.groups.length)} failure group${report.groups.length === 1 ? '' : 's'} (failed ${n(report.total.failed)} · dead-letter ${n(report.total.deadLetter)})${window}; grouped by ${report.basis}`)
  if (report.groups.length > 0) lines.push(groupTable(report.groups))
  if (report.ungrouped > 0) lines.push(paint('yellow', `${rows(report.ungrouped)} in no group: more than ${n(report.groups.length)} distinct failures`))
  if (report.limited) lines.push(paint('yellow', `stopped after ${rows(report.scanned)} (--limit): narrow it with --since/--until or --event-type`))
  for (const note of report.notes) lines.push(paint('dim', `note: ${note}`))
  const top = report.groups.find((g) => g.deadLetter > 0)
  if (top) lines.push(paint('dim', `act on a group: msgops outbox requeue --group ${top.fingerprint} --dry-run (or outbox discard --group ${top.fingerprint} --archive FILE)`))
  return lines.join('\n')
}

function groupTable(groups: FailureGroup[]): string {
  return renderTable(
    ['fingerprint', 'rows', 'failed', 'dead', 'event types', 'error', 'first seen', 'last seen', 'sample ids'],
    groups.map((g) => [g.fingerprint, n(g.count), n(g.failed), n(g.deadLetter), g.eventTypes.join(', '), g.sampleError ?? paint('dim', '(no error)'), humanTime(g.firstSeen), humanTime(g.lastSeen), g.sampleIds.join(' ')]),
    {maxWidths: [11, 12, 12, 12, 40, 120, 20, 20, 120], shrink: [8, 5, 4]},
  )
}

/** The top groups under outbox status: one line each. */
export function renderTopFailures(groups: FailureGroup[]): string[] {
  return groups.map((g) => `  ${g.fingerprint}  ${n(g.count).padStart(7)}  ${g.eventTypes.join(', ') || '-'}  ${g.sampleError ?? '(no error)'}`)
}

/** The group a question or a report is about: its fingerprint, what its error reads, its event types, its window. */
export function describeGroup(plan: GroupPlan): string {
  const what = plan.pattern ? ` ("${cutText(plan.pattern, 80)}"${plan.eventTypes.length > 0 ? `, ${plan.eventTypes.slice(0, 3).join(', ')}` : ''})` : plan.eventTypes.length > 0 ? ` (${plan.eventTypes.slice(0, 3).join(', ')})` : ''
  const window = plan.window.since || plan.window.until ? ` created${plan.window.since ? ` from ${plan.window.since}` : ''}${plan.window.until ? ` before ${plan.window.until}` : ''}` : ''
  return `failure group ${plan.group}${what}${window}`
}

function cutText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

export function groupRequeueQuestion(plan: GroupPlan, target: (service: Service) => string): string {
  return `Put ${rows(plan.matching)} of ${describeGroup(plan)} back from dead-letter to pending in ${target('mysql')}?`
}

export function discardQuestion(plan: GroupPlan & {archive: string | null}, target: (service: Service) => string): string {
  const kept = plan.archive ? `after archiving each one to ${plan.archive}` : paint('bold', 'WITHOUT keeping a copy')
  return `Delete ${rows(plan.matching)} of ${describeGroup(plan)} from ${target('mysql')}, ${kept}?`
}

function sample(plan: GroupPlan): string {
  return paint('dim', `sample ids: ${plan.sampleIds.join(' ')}${plan.sampleError ? ` · error: ${cutText(plan.sampleError, 120)}` : ''}`)
}

export function renderGroupRequeue(result: GroupRequeueResult): string {
  if (result.dryRun) return `dry run: ${rows(result.matching)} of ${describeGroup(result)} would go back to pending\n${sample(result)}`
  if (result.cancelled) return 'cancelled: nothing was changed'
  const left = result.matching - result.requeued
  const line = `${rows(result.requeued)} of ${describeGroup(result)} put back to pending`
  if (result.interrupted) return `${line}\n${paint('yellow', `stopped early: run the same command again for the rest (about ${n(Math.max(0, left))})`)}`
  return left > 0 ? `${line}\n${paint('dim', `${n(left)} counted earlier had left the dead letters meanwhile (another run, a requeue)`)}` : line
}

export function renderDiscard(result: DiscardResult): string {
  const kept = result.archive ? `, archived to ${result.archive}` : ' (no archive)'
  if (result.dryRun) return `dry run: ${rows(result.matching)} of ${describeGroup(result)} would be deleted${result.archive ? ` after archiving to ${result.archive}` : ''}\n${sample(result)}`
  if (result.cancelled) return 'cancelled: nothing was changed'
  const line = `${rows(result.discarded)} of ${describeGroup(result)} deleted${kept}`
  return result.interrupted ? `${line}\n${paint('yellow', 'stopped early: run the same command again for the rest')}` : line
}

/** Beyond this many lines a side, the diff says how much changed instead of aligning line by line (LCS is quadratic). */
const DIFF_LINES = 2000

/** A line diff of two texts: '-' removed, '+' added, two lines of context around each change. */
export function renderDiff(before: string, after: string): string {
  const a = before.replace(/\n$/, '').split('\n')
  const b = after.replace(/\n$/, '').split('\n')
  if (a.length > DIFF_LINES || b.length > DIFF_LINES) return paint('dim', `(${a.length} lines before, ${b.length} after: too long to align line by line)`)
  const lcs: number[][] = Array.from({length: a.length + 1}, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1])
  const ops: {op: ' ' | '-' | '+'; line: string}[] = []
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({op: ' ', line: a[i++]}), j++
    else if (j < b.length && (i === a.length || lcs[i][j + 1] >= lcs[i + 1][j])) ops.push({op: '+', line: b[j++]})
    else ops.push({op: '-', line: a[i++]})
  }
  const near = (k: number) => ops.slice(Math.max(0, k - 2), k + 3).some((o) => o.op !== ' ')
  const lines: string[] = []
  let skipped = false
  for (const [k, o] of ops.entries()) {
    if (o.op === ' ' && !near(k)) {
      if (!skipped) lines.push(paint('dim', '  …'))
      skipped = true
      continue
    }
    skipped = false
    lines.push(o.op === '-' ? paint('red', `- ${o.line}`) : o.op === '+' ? paint('green', `+ ${o.line}`) : `  ${o.line}`)
  }
  return lines.join('\n')
}

export function editQuestion(row: {id: string; status: string; attempts: number | null; eventType: string | null}, target: (service: Service) => string): string {
  const what = `${row.status}${row.attempts === null ? '' : `, ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}`}${row.eventType ? `, ${row.eventType}` : ''}`
  return `Write this payload to outbox row ${row.id} (${what}) in ${target('mysql')} and set it pending, so that the next drain publishes it?`
}

export function renderEdit(result: EditResult): string {
  if (result.unchanged) return 'no change: nothing was written'
  if (result.cancelled) return 'cancelled: nothing was changed'
  return `outbox row ${result.id}: payload written, ${result.previousStatus} → pending (attempts kept: ${result.attempts ?? '-'}); the next drain publishes it once`
}
