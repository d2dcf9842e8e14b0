import {randomBytes} from 'node:crypto'
import {renameSync, rmSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import {UsageError} from '../core/errors.js'

export interface Metric {
  name: string
  help: string
  type: 'gauge' | 'counter'
  samples: {labels?: Record<string, string>; value: number}[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"')
}

/** Prometheus text exposition format, as node_exporter's textfile collector reads it. */
export function formatMetrics(metrics: Metric[]): string {
  const lines: string[] = []
  for (const metric of metrics) {
    if (!NAME.test(metric.name)) throw new Error(`invalid metric name ${metric.name}`)
    lines.push(`# HELP ${metric.name} ${metric.help.replaceAll('\n', ' ')}`, `# TYPE ${metric.name} ${metric.type}`)
    for (const sample of metric.samples) {
      const labels = Object.entries(sample.labels ?? {})
      const text = labels.length > 0 ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : ''
      lines.push(`${metric.name}${text} ${Number.isFinite(sample.value) ? sample.value : 'NaN'}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/** Writes next to the target and renames, so a collector never reads half a file. */
export function writeMetricsFile(path: string, metrics: Metric[]): void {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    writeFileSync(temp, formatMetrics(metrics))
    renameSync(temp, path)
  } catch (error) {
    rmSync(temp, {force: true})
    throw new UsageError(`cannot write the metrics file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'check that its directory exists and is writable')
  }
}


export {METRICS} from '../core/snapshot/metric-names.js'
