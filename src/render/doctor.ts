import type {DoctorReport} from '../core/doctor.js'
import {okMark, paint} from './color.js'
import {renderTable} from './table.js'

export function renderDoctor(report: DoctorReport): string {
  const table = renderTable(
    ['', 'check', 'latency', 'detail'],
    report.checks.map((c) => [okMark(c.ok), c.name, c.latencyMs === undefined ? '' : `${c.latencyMs} ms`, c.detail]),
    {wrap: [3]},
  )
  const failed = report.checks.filter((c) => !c.ok).length
  const summary = failed === 0 ? paint('green', 'all checks passed') : paint('red', `${failed} check${failed === 1 ? '' : 's'} failed`)
  return `${table}\n${summary}`
}
