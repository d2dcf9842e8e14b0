import {stringify} from 'yaml'

import type {TopologyReport} from '../core/topology/apply.js'
import type {DefinitionsDocument, ExportFormat, TopologyDocument} from '../core/topology/export.js'
import {paint} from './color.js'
import {renderTable} from './table.js'

/** Beyond this many objects the unchanged ones are only counted. */
const MAX_UNCHANGED_ROWS = 40

function show(value: unknown): string {
  return value === null || value === undefined ? 'none' : typeof value === 'string' ? value : JSON.stringify(value)
}

export function renderTopologyReport(report: TopologyReport, verb: 'plan' | 'apply'): string {
  const planning = verb === 'plan' || report.dryRun
  const rows: string[][] = []
  for (const r of report.created) rows.push([paint('green', planning ? 'create' : 'created'), r.kind, r.name, ''])
  for (const r of report.recreated) rows.push([paint('yellow', 'recreated'), r.kind, r.name, 'deleted while empty and declared again'])
  for (const d of report.drifted)
    rows.push([paint('red', 'drift'), d.kind, d.name, `${d.differences.map((x) => `${x.field}: broker ${show(x.broker)}, file ${show(x.file)}`).join('; ')}; cannot be changed in place`])
  for (const r of report.unverified) rows.push([paint('yellow', planning ? 'unverified' : 'bound'), r.kind, r.name, 'bindings cannot be listed without the management API'])
  for (const r of report.extra) rows.push([paint('cyan', 'extra'), r.kind, r.name, 'on the broker, not in the file: left alone'])
  if (report.unchanged.length <= MAX_UNCHANGED_ROWS) for (const r of report.unchanged) rows.push([paint('dim', 'unchanged'), r.kind, r.name, report.check === 'existence' && r.kind !== 'binding' ? 'exists (arguments not checked)' : ''])

  const lines: string[] = [`vhost ${report.vhost}: ${report.check === 'full' ? 'compared through the management API' : 'existence checked with passive declares only'}`]
  if (rows.length > 0) lines.push(renderTable(['action', 'kind', 'name', 'detail'], rows, {wrap: [3, 2]}))
  const counts = [
    `${report.created.length} ${planning ? 'to create' : 'created'}`,
    ...(report.recreated.length > 0 ? [`${report.recreated.length} recreated`] : []),
    `${report.drifted.length} drifted`,
    `${report.unchanged.length} unchanged`,
    `${report.extra.length} extra`,
    ...(report.unverified.length > 0 ? [`${report.unverified.length} unverified`] : []),
  ].join(', ')
  const verdict =
    report.exitCode === 0
      ? paint('green', planning ? 'nothing to change' : 'the broker matches the file')
      : planning
        ? paint('yellow', 'apply would change the broker, or drift needs attention')
        : paint('red', 'drift remains: the broker does not match the file')
  lines.push(`${planning ? 'Plan' : 'Apply'}: ${counts}. ${verdict}`)
  return lines.join('\n')
}

/** Notes for stderr: fallbacks, refusals, things left alone. */
export function topologyNotes(report: TopologyReport): string[] {
  return report.notes
}

export function renderExport(document: TopologyDocument | DefinitionsDocument, format: ExportFormat, vhost: string): string {
  if (format === 'definitions') return JSON.stringify(document, null, 2)
  return `# exported by msgops from vhost ${vhost}\n${stringify(document)}`.trimEnd()
}
