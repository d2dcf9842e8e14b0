import type {DoctorReport} from '../core/doctor.js'
import {okMark, paint} from './color.js'
import {renderTable, terminalWidth} from './table.js'

export function renderDoctor(report: DoctorReport): string {
  const width = terminalWidth()
  const table = renderTable(
    ['', 'check', 'latency', 'detail'],
    report.checks.map((c) => [okMark(c.ok), c.name, c.latencyMs === undefined ? '' : `${c.latencyMs} ms`, c.detail]),
    {maxWidths: [undefined, 24, 10, Math.max(30, width - 50)]},
  )
  const failed = report.checks.filter((c) => !c.ok).length
  const summary = failed === 0 ? paint('green', 'all checks passed') : paint('red', `${failed} check${failed === 1 ? '' : 's'} failed`)
  return `${table}\n${summary}`
}
