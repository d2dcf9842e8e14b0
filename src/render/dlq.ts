import {formatDuration} from '../core/duration.js'
import type {InspectReport} from '../core/dlq/inspect.js'
import type {PurgeReport} from '../core/dlq/purge.js'
import type {TargetOverride} from '../core/dlq/decide.js'
import type {EditReplayReport} from '../core/dlq/edit.js'
import type {ReplayReport} from '../core/dlq/replay.js'
import {paint} from './color.js'
import {cut, renderTable, terminalWidth} from './table.js'
import {humanTime} from './time.js'


function target(exchange: string, routingKey: string): string {
  return `${exchange === '' ? '(default)' : exchange} → ${routingKey}`
}

export function renderInspect(report: InspectReport): string {
  const width = terminalWidth()
  const lines = [
    `${paint('bold', report.queue)}  depth ${report.depth}  consumers ${report.consumers}${report.consumers > 0 ? paint('yellow', ' (others consume this queue: counts may move)') : ''}`,
  ]
  if (report.depth === 0) return `${lines[0]}\n${paint('green', 'empty')}`
  lines.push(paint('dim', `read ${report.read} of ${report.depth}${report.complete ? '' : ' (stopped at --limit, or messages went to another consumer)'}; all returned to the queue`))
  lines.push(renderTable(
    ['group', 'fingerprint', 'count', 'reason', 'first queue', 'original exchange → routing key', 'error', 'oldest', 'newest'],
    report.groups.map((g) => [g.key, g.fingerprint, g.count, g.reason, g.queue, g.exchange === undefined ? '-' : target(g.exchange, g.routingKey ?? ''), g.error ?? '', humanTime(g.oldest), humanTime(g.newest)]),
    {maxWidths: [8, 11, 8, 14, 40, 60, 80], shrink: [6, 5, 4]},
  ))
  if (report.groups.length > 0) lines.push(paint('dim', `replay one group: msgops dlq replay ${report.queue} --group ${report.groups[0].key} --dry-run`))
  for (const s of report.samples) {
    lines.push('', `${paint('bold', 'message')} ${s.messageId ?? paint('dim', '(no message id)')}  group ${s.group}  ${s.reason}  died ${humanTime(s.diedAt)}  deaths ${s.deaths}  replays ${s.replayCount}`)
    const headers = Object.entries(s.headers).filter(([k]) => k !== 'x-death')
    for (const [k, v] of headers) lines.push(`  ${paint('dim', k)}: ${cut(typeof v === 'string' ? v : JSON.stringify(v), width - k.length - 6)}`)
    lines.push(`  ${paint('dim', `body (${s.bodyBytes} bytes${s.bodyEncoding === 'base64' ? ', base64' : ''})`)}: ${cut(`${s.body}${s.truncated ? '…' : ''}`, width - 30)}`)
  }
  return lines.join('\n')
}

/** The confirmation of a replay names the broker, the queue and where the messages go. */
export function replayQuestion(queue: string, count: number, override: TargetOverride | undefined, target: (service: 'amqp') => string): string {
  const where = override === undefined
    ? 'back to the exchange and routing key each one came from'
    : 'queue' in override
      ? `to queue ${override.queue} (through the default exchange)`
      : `to exchange ${override.exchange}${override.routingKey === undefined ? ' with their original routing keys' : ` with routing key ${override.routingKey}`}`
  return `Replay up to ${count.toLocaleString('en-US')} dead letter${count === 1 ? '' : 's'} from ${queue} on ${target('amqp')}, ${where}?`
}

/** The confirmation of a purge names the broker, the queue and whether an archive keeps what is removed. */
export function purgeQuestion(queue: string, count: number, archive: string | undefined, target: (service: 'amqp') => string): string {
  const kept = archive ? `, archiving them to ${archive}` : ' WITHOUT an archive'
  return `Remove up to ${count.toLocaleString('en-US')} dead letter${count === 1 ? '' : 's'} from ${queue} on ${target('amqp')}${kept}?`
}

export function renderReplay(report: ReplayReport): string {
  const lines: string[] = []
  const verb = report.dryRun ? 'would move' : 'moved'
  if (report.targets.length > 0)
    lines.push(renderTable(['target', report.dryRun ? 'would move' : 'moved'], report.targets.map((t) => [target(t.exchange, t.routingKey), t.count])))
  for (const f of report.failures) lines.push(`${paint('red', 'failed')}  ${f.messageId ?? '(no id)'} → ${target(f.target.exchange, f.target.routingKey)}: ${f.error}`)
  for (const s of report.skips)
    lines.push(`${paint('yellow', 'skipped')} ${s.messageId ?? '(no id)'}: ${s.why === 'max-replays' ? `already replayed ${s.replayCount} times (--max-replays)` : 'no x-death and no --to-exchange/--to-queue: nowhere to send it'}`)
  if (report.failed > report.failures.length || report.skipped > report.skips.length) lines.push(paint('dim', '(details cut to the first 100)'))
  const summary = `${report.queue}: read ${report.read} of ${report.depth}; ${verb} ${report.moved}, failed ${report.failed}, skipped ${report.skipped}, left (not matching) ${report.left} in ${formatDuration(report.elapsedMs)}`
  lines.push(report.failed + report.skipped > 0 ? paint('yellow', summary) : paint('green', summary))
  if (report.dryRun) lines.push(paint('dim', 'dry run: nothing was moved'))
  if (report.stoppedBy) lines.push(paint('red', `stopped early: ${report.stoppedBy}`))
  if (report.interrupted) lines.push(paint('yellow', 'interrupted: the rest is still in the queue'))
  return lines.join('\n')
}

export function renderPurge(report: PurgeReport): string {
  const lines = [
    `${report.queue}: read ${report.read} of ${report.depth}; ${report.dryRun ? 'would purge' : 'purged'} ${report.purged}, left (not matching) ${report.left}`,
  ]
  if (report.archive) lines.push(`archived ${report.archived} to ${report.archive}`)
  if (report.dryRun) lines.push(paint('dim', 'dry run: nothing was removed'))
  if (report.interrupted) lines.push(paint('yellow', 'interrupted: the rest is still in the queue'))
  return lines.join('\n')
}

/** The confirmation of an edited replay names the message, the broker and where the edited copy goes. */
export function editReplayQuestion(queue: string, plan: {messageId: string; target: {exchange: string; routingKey: string}; newMessageId?: string}, override: TargetOverride | undefined, service: (service: 'amqp') => string): string {
  const where = `${override ? 'instead of its original destination, ' : ''}${target(plan.target.exchange, plan.target.routingKey)}`
  const id = plan.newMessageId ? ` as new message id ${plan.newMessageId}` : ''
  return `Publish the edited copy of dead letter ${plan.messageId} from "${queue}" on ${service('amqp')} to ${where}${id}, then remove the original?`
}

export function renderEditReplay(report: EditReplayReport): string {
  const to = report.target ? target(report.target.exchange, report.target.routingKey) : ''
  switch (report.step) {
    case 'acked':
      return `dead letter ${report.messageId}: the edited copy was published to ${to}${report.publishedAs !== report.messageId ? ` as ${report.publishedAs}` : ''} and confirmed, then the original was removed from "${report.queue}"`
    case 'published':
      return paint('yellow', `dead letter ${report.messageId}: ${report.detail ?? 'the edited copy was published, the original is still in the queue'}`)
    case 'failed':
      return paint('red', `dead letter ${report.messageId}: not published (${report.detail ?? 'unknown'})`)
    case 'unchanged':
      return `dead letter ${report.messageId}: no change, nothing was published; it is still in "${report.queue}"`
    case 'cancelled':
      return 'cancelled: nothing was changed'
    default:
      return ''
  }
}
