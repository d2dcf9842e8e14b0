import {readFileSync} from 'node:fs'

import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {UsageError} from '../../core/errors.js'
import {type CombinedReport, combineParts, type PartFile} from '../../core/reconcile/combine.js'
import {reconcileOutput} from '../../render/json/reconcile.js'
import {writeMetricsFile} from '../../render/metrics.js'
import {reconcileMetrics, renderFixes, renderReconcile} from '../../render/reconcile.js'

export default class ReconcileMerge extends BaseCommand<typeof ReconcileMerge> {
  static summary = "Join the --json reports of a reconcile's parts into the whole run's report and exit code."
  static description = `Takes the --json output of every part of one run (reconcile --part I/N or --parts N) and adds them up: counts, oldest findings, samples, fixes. Refuses a set with a part missing or given twice, or parts of different runs (they must share one window and one set of cuts), naming the file or the part.
Exit 0 when the whole run found nothing (or fixed all of it), 1 when anything was found and is left, 2 when the files are not the parts of one run.`

  static examples = [
    '<%= config.bin %> <%= command.id %> part-1.json part-2.json part-3.json part-4.json',
    '<%= config.bin %> <%= command.id %> /shared/reconcile/*.json --json --metrics-file /var/lib/node_exporter/msgops_reconcile.prom',
  ]

  static strict = false
  static args = {file: Args.string({description: "a part's --json output (one per part)", required: true})}

  static flags = {
    sample: Flags.integer({description: 'sample ids kept per check (default: as many as the parts kept)', min: 0, max: 1000}),
    'metrics-file': Flags.string({description: "write the whole run's findings per check, duration and last success time in Prometheus text format"}),
  }

  async run(): Promise<CombinedReport> {
    const {argv} = await this.parse(ReconcileMerge)
    const files = (argv as string[]).map(readPart)
    const sample = this.flags.sample ?? Math.max(5, ...files.flatMap((f) => Object.values(f.report.checks).map((r) => r?.samples.length ?? 0)))
    const {report, outcome} = combineParts(files, sample)
    this.print(() => [renderReconcile(report), `${report.parts.length} parts of run ${report.run}`, ...(report.fixes ? [renderFixes(report.fixes)] : [])].join('\n'))
    if (this.flags['metrics-file']) writeMetricsFile(this.flags['metrics-file'], reconcileMetrics(report, Date.now()))
    this.conclude(outcome)
    return report
  }
}

/** One file as a part's report, or a usage error naming the file and what is wrong with it. */
function readPart(file: string): PartFile {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path of each part file')
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new UsageError(`${file} is not JSON`, 'give the --json output of each part')
  }
  const failed = (json as {error?: {message?: unknown}})?.error
  if (failed) throw new UsageError(`${file} is the error of a part that failed: ${String(failed.message ?? 'unknown error').slice(0, 200)}`, 'run that part again')
  const parsed = reconcileOutput.safeParse(json)
  if (!parsed.success) throw new UsageError(`${file} is not a reconcile --json report (${parsed.error.issues[0]?.path.join('.') || 'top level'}: ${parsed.error.issues[0]?.message})`, 'give the --json output of reconcile --part I/N')
  return {file, report: parsed.data}
}
