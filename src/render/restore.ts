import type {TargetOverride} from '../core/dlq/decide.js'
import type {RestoreReport} from '../core/dlq/restore.js'
import {paint} from './color.js'
import {renderTable} from './table.js'

const n = (value: number) => value.toLocaleString('en-US')

/** The question names the file, the broker and where the messages go. */
export function restoreQuestion(file: string, count: number, override: TargetOverride | undefined, target: (service: 'amqp') => string): string {
  const where = override === undefined ? 'to the exchange and routing key each one came from' : 'queue' in override ? `to queue ${override.queue}` : `to exchange ${override.exchange}`
  return `Publish ${n(count)} message${count === 1 ? '' : 's'} from ${file} on ${target('amqp')}, ${where}?`
}

export function renderRestore(r: RestoreReport): string {
  const lines: string[] = []
  if (r.targets.length > 0)
    lines.push(renderTable(['target', r.dryRun ? 'would publish' : 'published'], r.targets.map((t) => [`${t.exchange === '' ? '(default)' : t.exchange} → ${t.routingKey}`, n(t.count)])))
  for (const f of r.failures.slice(0, 20)) lines.push(`${paint('red', 'failed')}  line ${f.line}${f.messageId ? ` (${f.messageId})` : ''}: ${f.error}`)
  const summary = `${r.file}: ${n(r.lines)} lines; ${r.dryRun ? 'would publish' : 'published'} ${n(r.restored)}, already restored ${n(r.alreadyRestored)}, failed ${n(r.failed)}, not matching ${n(r.left)}, no target ${n(r.noTarget)}, invalid ${n(r.invalid)}`
  lines.push(r.failed + r.invalid + r.noTarget > 0 ? paint('yellow', summary) : paint('green', summary))
  if (r.inDoubt.length > 0) lines.push(paint('yellow', `${n(r.inDoubt.length)} line${r.inDoubt.length === 1 ? ' was' : 's were'} being published when an earlier run stopped: published again (same message ids), so they may arrive twice`))
  if (!r.dryRun) lines.push(paint('dim', `restored lines are marked in ${r.ledger}: a second run skips them`))
  if (r.dryRun) lines.push(paint('dim', 'dry run: nothing was published'))
  if (r.interrupted) lines.push(paint('yellow', 'interrupted after the batch in hand: run again to go on'))
  return lines.join('\n')
}
