import {formatDuration} from '../core/duration.js'
import {HEALTHY, type Trace, type TraceState} from '../core/trace/model.js'
import type {TraceSummary} from '../core/trace/run.js'
import {paint} from './color.js'
import {renderTable} from './table.js'
import {humanTime} from './time.js'

/** A value the mapping does not have is "unknown"; a value that is not set is "-". */
function cell(value: string | number | null, logical: string, unknown: string[]): string {
  if (unknown.includes(logical)) return paint('dim', 'unknown')
  return value === null ? '-' : String(value)
}

function when(iso: string | null, logical: string, unknown: string[]): string {
  return unknown.includes(logical) ? paint('dim', 'unknown') : humanTime(iso)
}

export function stateColor(state: TraceState): 'green' | 'yellow' | 'red' {
  if (state === 'consistent') return 'green'
  if (HEALTHY.has(state) || state === 'unknown') return 'yellow'
  return 'red'
}

/** One id whole: its rows, the broker, the timeline, then the verdict and the repairing commands. */
export function renderTrace(t: Trace): string {
  const out: string[] = [paint('bold', `${t.kind === 'none' ? 'id' : t.kind} ${t.id}`)]
  if (t.kind === 'none') {
    out.push(verdictLine(t))
    return out.join('\n')
  }
  if (t.order) {
    const o = t.order
    out.push('order', renderTable(['id', 'status', 'message id', 'created', 'updated'], [[o.id, cell(o.status, 'status', o.unknown), cell(o.messageId, 'messageId', o.unknown), when(o.createdAt, 'createdAt', o.unknown), when(o.updatedAt, 'updatedAt', o.unknown)]]))
  } else out.push(`order: ${paint('dim', 'none found')}`)
  if (t.outbox.length > 0)
    out.push(
      'outbox',
      renderTable(
        ['message id', 'status', 'attempts', 'last error', 'created', 'available', 'sent', 'exchange', 'routing key'],
        t.outbox.map((m) => [m.id, m.state === 'other' ? m.status : m.state, cell(m.attempts, 'attempts', m.unknown), cell(m.lastError, 'lastError', m.unknown), when(m.createdAt, 'createdAt', m.unknown), when(m.availableAt, 'availableAt', m.unknown), when(m.sentAt, 'sentAt', m.unknown), m.exchange ?? '-', m.routingKey ?? '-']),
        {shrink: [3]},
      ),
    )
  else out.push(`outbox: ${paint('dim', 'no row')}`)
  if (t.inbox.length > 0)
    out.push(
      'inbox',
      renderTable(
        ['message id', 'consumer', 'status', 'attempts', 'last error', 'received', 'processed'],
        t.inbox.map((r) => [r.messageId, cell(r.consumer, 'consumer', r.unknown), r.state === 'other' ? r.status : r.state, cell(r.attempts, 'attempts', r.unknown), cell(r.lastError, 'lastError', r.unknown), when(r.receivedAt, 'receivedAt', r.unknown), when(r.processedAt, 'processedAt', r.unknown)]),
        {shrink: [4]},
      ),
    )
  else out.push(`inbox: ${paint('dim', 'no consumer recorded it')}`)
  if (t.audit.length > 0)
    out.push('audit', renderTable(['at', 'command', 'did', 'about', 'by', 'exit'], t.audit.map((a) => [humanTime(a.at), `msgops ${a.command}`, a.recorded ? a.action : `${a.action} (may have: ids not all recorded)`, a.about, `${a.osUser}@${a.host}`, a.exitCode]), {shrink: [2, 4]}))
  else out.push(`audit: ${paint('dim', 'no msgops command recorded touching it')}`)
  out.push(`cache: ${cacheText(t)}`)
  if (t.outbox.length > 0) out.push(...brokerLines(t))
  if (t.timeline.length > 0) out.push('timeline', renderTable(['time', 'step', 'detail'], t.timeline.map((e) => [humanTime(e.at), e.event, e.detail]), {wrap: [2]}))
  for (const note of t.notes) out.push(paint('dim', `note: ${note}`))
  out.push(verdictLine(t))
  if (t.repair.length > 0) out.push(`repair: ${t.repair.join('  then  ')}`)
  return out.join('\n')
}

function cacheText(t: Trace): string {
  const c = t.cache
  if (c.state === 'unknown') return paint('dim', `unknown (${c.reason ?? 'not compared'})`)
  if (c.state === 'equal') return `${c.key} = ${c.value ?? '(none)'}, the order's status`
  if (c.state === 'missing') return paint('red', `${c.key} missing (the order's status is ${c.expected ?? 'NULL'})`)
  if (c.state === 'different') return paint('red', `${c.key} = ${c.value}, the order's status is ${c.expected ?? 'NULL'}`)
  return paint('red', `${c.key} unreadable: ${c.reason}`)
}

function brokerLines(t: Trace): string[] {
  const b = t.broker
  const lines: string[] = []
  if (b.queues === null) lines.push(`queues: ${paint('dim', 'unknown')}`)
  else if (b.queues.length === 0) lines.push('queues: none bound for its exchange and routing key')
  else lines.push(`queues: ${b.queues.map((q) => `${q.queue} ${q.messages} ready, ${q.consumers} consumer${q.consumers === 1 ? '' : 's'}`).join('; ')}`)
  const d = b.dlq
  if (d.state === 'found') lines.push(`dead-letter queues: ${d.found.map((f) => `found in ${f.queue} (${f.reason} by ${f.from}${f.at ? ` at ${humanTime(f.at)}` : ''})`).join('; ')}`)
  else if (d.state === 'absent') lines.push(`dead-letter queues: not in ${b.deadLetterQueues.join(', ')} (${d.read} read, every one returned)`)
  else if (d.state === 'partial') lines.push(`dead-letter queues: not in the ${d.read} messages read of ${b.deadLetterQueues.join(', ')} (--limit or no delivery within --idle)`)
  else lines.push(`dead-letter queues: ${paint('dim', `not read: ${d.why ?? ''}`)}`)
  for (const note of b.notes) lines.push(paint('dim', `note: ${note}`))
  return lines
}

function verdictLine(t: Trace): string {
  return paint('bold', paint(stateColor(t.verdict.state), t.verdict.text))
}

/** One line per id, for many ids. */
export function renderSummaryLine(t: Trace): string {
  return `${t.id}\t${t.kind}\t${paint(stateColor(t.verdict.state), t.verdict.state)}\t${t.verdict.text}`
}

/** The counts per state at the end of a run over many ids. */
export function renderCounts(summary: TraceSummary, elapsedMs: number): string {
  const parts = Object.entries(summary.counts).sort((a, b) => b[1]! - a[1]!).map(([state, n]) => paint(stateColor(state as TraceState), `${n} ${state}`))
  return `${summary.total.toLocaleString('en-US')} ids in ${formatDuration(elapsedMs)}: ${parts.join(', ')}`
}
