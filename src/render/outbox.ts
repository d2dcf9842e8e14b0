import {formatDuration} from '../core/duration.js'
import type {DrainPlan, DrainResult} from '../core/outbox/drain.js'
import type {ListResult, ShownRow} from '../core/outbox/list.js'
import type {RequeueResult} from '../core/outbox/requeue.js'
import {COUNT_CAP, type StatusReport} from '../core/outbox/status.js'
import {paint} from './color.js'
import {renderTopFailures} from './failures.js'
import {type Metric, METRICS} from './metrics.js'
import {renderTable} from './table.js'
import type {Service} from './target.js'
import {humanTime} from './time.js'

const n = (value: number) => value.toLocaleString('en-US')
/** Bytes in binary units, one decimal above KiB. */
const bytes = (value: number) => (value < 1024 ? `${value} B` : value < 1024 ** 2 ? `${(value / 1024).toFixed(1)} KiB` : value < 1024 ** 3 ? `${(value / 1024 ** 2).toFixed(1)} MiB` : `${(value / 1024 ** 3).toFixed(1)} GiB`)
/** An age, or nothing for a table without a time column. */
const age = (ms: number | null) => (ms === null ? '' : formatDuration(ms))

export function renderStatus(report: StatusReport): string {
  const v = report.statusValues
  const raw = (value: string | number, name: string) => (String(value) === name ? '' : ` (${value})`)
  const lines: string[] = []
  const rows: (string | number)[][] = [
    [`pending${raw(v.pending, 'pending')}`, n(report.counts.pending ?? 0)],
    [`sent${raw(v.sent, 'sent')}`, n(report.counts.sent ?? 0)],
    [`dead-letter${raw(v.deadLetter, 'dead_letter')}`, n(report.counts['dead-letter'] ?? 0)],
  ]
  for (const [name, count] of Object.entries(report.counts)) if (!['pending', 'sent', 'dead-letter'].includes(name)) rows.push([`other (${name})`, n(count)])
  lines.push(`outbox ${report.table}: ${report.approximate.length > 0 ? '~' : ''}${n(report.total)} rows`, renderTable(['status', 'rows'], rows))
  if (report.stuck === null) lines.push('oldest pending: unknown · stuck: unknown (no time column)')
  else {
    const oldest = report.oldestPendingAgeMs === null ? 'none' : formatDuration(report.oldestPendingAgeMs)
    const stuck = report.stuck > 0 ? paint('yellow', `${report.approximate.includes('stuck') ? '≥' : ''}${n(report.stuck)}`) : '0'
    lines.push(`oldest pending: ${oldest} · stuck (pending > ${formatDuration(report.stuckAfterMs)}): ${stuck}`)
  }
  if (report.sentRecently) {
    const basis = report.sentBasis === 'created_at' ? ' (by creation time: sent_at has no index)' : ''
    const f = (w: '1m' | '5m' | '1h') => `${report.approximate.includes(`sent ${w}`) ? '≥' : ''}${n(report.sentRecently![w])}`
    lines.push(`sent in the last 1m: ${f('1m')} · 5m: ${f('5m')} · 1h: ${f('1h')}${basis}`)
  }
  const estimated = report.approximate.filter((a) => !a.startsWith('sent ') && a !== 'stuck' && !a.startsWith('≥'))
  if (estimated.length > 0) lines.push(paint('dim', `(${estimated.join(', ')}: estimated from table statistics)`))
  const atLeast = report.approximate.filter((a) => a.startsWith('≥')).map((a) => a.slice(1))
  if (atLeast.length > 0) lines.push(paint('dim', `(${atLeast.join(', ')}: more than ${n(COUNT_CAP)}, not counted further)`))
  if (report.attempts) lines.push(`attempts (pending + dead letters): ${Object.entries(report.attempts).map(([b, c]) => `${b}: ${n(c)}`).join(' · ')}`)
  if (report.topEventTypes && report.topEventTypes.length > 0)
    lines.push(`top pending event types: ${report.topEventTypes.map((e) => `${e.eventType} ${n(e.count)}`).join(' · ')}`)
  if (report.topFailures && report.topFailures.groups.length > 0)
    lines.push(`top failure groups${report.topFailures.limited ? ` (of the first ${n(COUNT_CAP)} failed rows)` : ''} (msgops outbox failures):`, ...renderTopFailures(report.topFailures.groups))
  if (report.size) lines.push(`table size: ~${n(report.size.rows)} rows · ${bytes(report.size.dataBytes)} data · ${bytes(report.size.indexBytes)} indexes (statistics)`)
  if (report.prunable) lines.push(`prunable (sent, ${report.prunable.basis} older than ${report.prunable.retention}): ${report.prunable.capped ? '>' : ''}${n(report.prunable.rows)}`)
  for (const note of report.notes) lines.push(paint('dim', `note: ${note}`))
  for (const alert of report.alerts) lines.push(paint('red', `ALERT: ${alert}`))
  return lines.join('\n')
}

/** The figures of `outbox status` for node_exporter's textfile collector. */
export function statusMetrics(report: StatusReport): Metric[] {
  const metrics: Metric[] = [
    {...METRICS.outboxRows, samples: Object.entries(report.counts).map(([status, value]) => ({labels: {table: report.table, status}, value}))},
  ]
  // Without a time column there are no ages: a 0 would read as "nothing waiting".
  if (report.stuck !== null)
    metrics.push(
      {...METRICS.outboxOldestPendingAge, samples: [{labels: {table: report.table}, value: (report.oldestPendingAgeMs ?? 0) / 1000}]},
      {...METRICS.outboxStuck, samples: [{labels: {table: report.table}, value: report.stuck}]},
    )
  metrics.push({...METRICS.outboxAlerts, samples: [{labels: {table: report.table}, value: report.alerts.length}]})
  if (report.attempts)
    metrics.push({...METRICS.outboxAttempts, samples: Object.entries(report.attempts).map(([attempts, value]) => ({labels: {table: report.table, attempts}, value}))})
  if (report.prunable)
    metrics.push({name: 'msgops_outbox_prunable_rows', help: 'Sent outbox rows older than outbox.retention (a lower bound when capped).', type: 'gauge', samples: [{labels: {table: report.table}, value: report.prunable.rows}]})
  if (report.size)
    metrics.push({name: 'msgops_outbox_table_bytes', help: 'Outbox table size from the statistics.', type: 'gauge', samples: [{labels: {table: report.table, part: 'data'}, value: report.size.dataBytes}, {labels: {table: report.table, part: 'index'}, value: report.size.indexBytes}]})
  if (report.sentRecently)
    metrics.push({...METRICS.outboxSentRecent, samples: Object.entries(report.sentRecently).map(([window, value]) => ({labels: {table: report.table, window}, value}))})
  return metrics
}

export function renderList(result: ListResult): string {
  if (result.rows.length === 0) return 'no rows match'
  const table = renderTable(
    ['id', 'status', 'attempts', 'age', 'event type', 'routing key', 'last error'],
    result.rows.map((r) => [r.id, r.status, r.attempts ?? '', age(r.ageMs), r.eventType ?? '', r.routingKey ?? '', r.lastError ?? '']),
    {maxWidths: [38, 12, 8, 8, 30, 30, 200], shrink: [6, 5, 4]},
  )
  return result.next ? `${table}\nmore rows: --after ${result.next}` : table
}

export function renderShow(row: ShownRow): string {
  const entries = Object.entries(row.columns).filter(([, value]) => value !== row.payload)
  const width = Math.max(...entries.map(([k]) => k.length))
  // Times come as ISO 8601 instants (the JSON form): shown in the one human format.
  const instant = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/
  const shown = (value: unknown) =>
    value === null ? paint('dim', 'NULL') : typeof value === 'string' && instant.test(value) ? humanTime(value) : typeof value === 'object' ? JSON.stringify(value) : String(value)
  const lines = entries.map(([k, value]) => `${k.padEnd(width)}  ${shown(value)}`)
  if (row.ageMs !== null) lines.push(`${'age'.padEnd(width)}  ${formatDuration(row.ageMs)}`)
  lines.push('', paint('bold', 'payload:'), typeof row.payload === 'string' ? row.payload : JSON.stringify(row.payload, null, 2))
  return lines.join('\n')
}

/** The drain's confirmation names the rows, the database they are read from and the broker they go to. */
export function drainQuestion(plan: DrainPlan, target: (service: Service) => string): string {
  // "about": counted before the answer and the lock; the drain counts again once it holds the lock.
  return `Publish about ${plan.eligible.toLocaleString('en-US')} pending outbox row${plan.eligible === 1 ? '' : 's'} from ${target('mysql')} to ${target('amqp')}?`
}

/** The requeue's confirmation names the rows and the database. */
export function requeueQuestion(matching: number, target: (service: Service) => string): string {
  return `Put ${matching.toLocaleString('en-US')} dead-letter row${matching === 1 ? '' : 's'} back to pending in ${target('mysql')}?`
}

export function renderDrain(result: DrainResult): string {
  const lines: string[] = []
  if (result.dryRun) {
    lines.push(`dry run: ${n(result.eligible)} pending row${result.eligible === 1 ? '' : 's'} would be published; nothing was sent`)
    if (result.idle) lines.push(`nothing to publish: ${result.idle.reason}`)
    if (result.sample.length > 0)
      lines.push(renderTable(['id', 'event type', 'exchange', 'routing key', 'attempts', 'age'], result.sample.map((s) => [s.id, s.eventType ?? '', s.exchange, s.routingKey, s.attempts ?? '', age(s.ageMs)]), {maxWidths: [38, 30, 30, 30, 8, 8], shrink: [3, 2, 1]}))
    return lines.join('\n')
  }
  if (result.cancelled) return 'cancelled: nothing was published'
  if (result.idle) return `nothing to publish: ${result.idle.reason}`
  lines.push(renderTable(
    ['published', 'returned', 'nacked', 'invalid', 'dead-lettered', 'remaining', 'batches', 'rate'],
    [[n(result.published), n(result.returned), n(result.nacked), n(result.invalid), n(result.deadLettered), n(result.remaining), n(result.batches), `${n(result.rate)}/s`]],
  ))
  if (result.failures.length > 0)
    lines.push(renderTable(['id', 'outcome', 'reason', 'dead letter'], result.failures.map((f) => [f.id, f.outcome, f.reason, f.deadLettered ? 'yes' : '']), {maxWidths: [38, 10, 200, 11], shrink: [2]}))
  if (result.interrupted) lines.push(paint('yellow', 'stopped early: the batch in hand was finished'))
  return lines.join('\n')
}

export function renderRequeue(result: RequeueResult): string {
  if (result.dryRun) {
    const lines = [`dry run: ${n(result.matching)} dead-letter row${result.matching === 1 ? '' : 's'} would go back to pending`]
    if (result.sample.length > 0)
      lines.push(renderTable(['id', 'event type', 'attempts', 'age', 'last error'], result.sample.map((s) => [s.id, s.eventType ?? '', s.attempts ?? '', age(s.ageMs), s.lastError ?? '']), {maxWidths: [38, 30, 8, 8, 200], shrink: [4, 1]}))
    return lines.join('\n')
  }
  if (result.cancelled) return 'cancelled: nothing was changed'
  if (result.matching === 0) return 'no dead-letter rows match'
  return `${n(result.requeued)} dead-letter row${result.requeued === 1 ? '' : 's'} back to pending${result.interrupted ? ' (stopped early)' : ''}`
}
