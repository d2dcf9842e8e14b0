import type {AuditPage, AuditRecord} from '../core/audit.js'
import {paint} from './color.js'
import {renderTable} from './table.js'
import {humanTime} from './time.js'

function result(code: number): string {
  if (code === 0) return paint('green', 'ok')
  if (code === 1) return paint('yellow', 'found (1)')
  if (code === 2) return paint('red', 'error (2)')
  return paint('yellow', `interrupted (${code})`)
}

/** The outcome's counts in a line: numbers and short texts, nested objects left to `audit show`. */
function summary(outcome: Record<string, unknown>): string {
  return Object.entries(outcome)
    .filter(([, v]) => (typeof v === 'number' && v !== 0) || (typeof v === 'string' && v.length < 200) || v === true)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
}

export function renderAuditList(page: AuditPage): string {
  if (page.records.length === 0) return 'no audit records match'
  const table = renderTable(
    ['id', 'at (UTC)', 'command', 'result', 'by', 'outcome'],
    page.records.map((r) => [r.id, humanTime(r.at), r.command, result(r.exitCode), `${r.osUser}@${r.host}`, summary(r.outcome)]),
    {shrink: [5, 4]},
  )
  return page.next ? `${table}\nolder records: --before ${page.next}` : table
}

export function renderAuditRecord(record: AuditRecord): string {
  return [
    `${paint('bold', `audit ${record.id}`)}  ${humanTime(record.at)}  ${record.command}  ${result(record.exitCode)}`,
    `by       ${record.osUser}@${record.host}`,
    `command  msgops ${record.command} ${record.arguments.join(' ')}`.trimEnd(),
    '',
    paint('bold', 'outcome:'),
    JSON.stringify(record.outcome, null, 2),
  ].join('\n')
}
