import {Flags} from '@oclif/core'

import {RedisCache} from '../adapters/cache.js'
import {ConfirmPublisher} from '../adapters/publisher.js'
import {BaseCommand, type ChangeContext} from '../base-command.js'
import {TouchedIds, withIds} from '../core/audit.js'
import {parseDuration} from '../core/duration.js'
import {drainOutbox} from '../core/outbox/drain.js'
import {CHECKS, type CheckName} from '../core/reconcile/checks.js'
import type {DrainPort} from '../core/reconcile/ports.js'
import {type FixReport, fixFindings, reconcileOutcome, selectFixes} from '../core/reconcile/fix.js'
import type {ReconcileOptions, ReconcileReport} from '../core/reconcile/report.js'
import {reconcile} from '../core/reconcile/run.js'
import {parseTimeSpec} from '../core/reconcile/window.js'
import {writeMetricsFile} from '../render/metrics.js'
import {describeChecks, fixQuestion, reconcileMetrics, renderFixes, renderReconcile} from '../render/reconcile.js'

export type ReconcileResult = ReconcileReport & {fixes?: FixReport}

export default class Reconcile extends BaseCommand<typeof Reconcile> {
  static multiProfile = true

  static summary = 'Compare orders, outbox, inbox and the Redis cache; report every discrepancy and optionally repair it.'
  static description = `Checks, each selectable with --check (default all):
${describeChecks()}
Rows are read in keyset-paginated batches over the window (--since, --until, on each table's own timestamp) and rows younger than --grace are never flagged; Redis is read in pipelined batches.
--fix repairs what can be repaired after a confirmation (message_stuck is drained, sent_not_consumed set back to pending, cache_drift rewritten from MySQL or deleted as cache.onDrift says, message_dead set back to pending only with --fix-dead); the rest is reported, never invented. A cache key of another Redis type than cache.format is a cache_drift finding naming the key; --fix replaces it (its TTL kept), or with --cache-wrong-type keep leaves it and reports it as left. Every fix is audited.
Exit 0 when clean or when --fix repaired everything it found, 1 when anything was found and is left (a declined or dry-run --fix leaves it all), 2 on a usage, configuration or connection error, or when another reconcile holds the lock.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --since 7d --grace 10m --check sent_not_consumed --check cache_drift',
    '<%= config.bin %> <%= command.id %> --json --metrics-file /var/lib/node_exporter/msgops_reconcile.prom',
    '<%= config.bin %> <%= command.id %> --fix --dry-run',
    '<%= config.bin %> <%= command.id %> --fix --fix-dead --yes --wait-lock 10m',
  ]

  static graceful = 'the page in hand'

  static flags = {
    check: Flags.string({description: 'run only this check (repeatable)', options: [...CHECKS], multiple: true}),
    since: Flags.string({description: 'start of the window: a duration ago (24h, 7d) or YYYY-MM-DD[ HH:MM:SS] in database time', default: '24h'}),
    until: Flags.string({description: 'end of the window (exclusive): a duration ago or a database time; default now'}),
    grace: Flags.string({description: 'rows younger than this are never flagged', default: '5m'}),
    sample: Flags.integer({description: 'sample ids shown per check', default: 5, min: 0, max: 1000}),
    'batch-size': Flags.integer({description: 'rows per SQL page and keys per Redis pipeline', default: 10_000, min: 1, max: 50_000}),
    plan: Flags.string({
      description: 'how rows without a partner are found: merge (read the key columns once and compare), lookup (an index lookup per row), auto (merge when the window covers the tables)',
      options: ['auto', 'merge', 'lookup'],
      default: 'auto',
    }),
    fix: Flags.boolean({description: 'repair what can be repaired (asks first)'}),
    'fix-dead': Flags.boolean({description: 'with --fix, also set dead-letter rows back to pending', dependsOn: ['fix']}),
    'dry-run': Flags.boolean({description: 'with --fix, show what would be repaired and change nothing', dependsOn: ['fix']}),
    'cache-wrong-type': Flags.string({
      description: 'with --fix, a cache key of another Redis type than cache.format: replace it (default) or keep it and report it as left',
      options: ['keep', 'replace'],
      dependsOn: ['fix'],
    }),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    'wait-lock': Flags.string({description: 'wait this long for another reconcile to finish instead of exiting 2, e.g. 10m'}),
    'metrics-file': Flags.string({description: 'write findings per check, duration and last success time in Prometheus text format'}),
  }

  async run(): Promise<ReconcileResult> {
    const f = this.flags
    const options = this.options()
    const applying = f.fix && !f['dry-run']
    // MySQL is connected while the lock is taken (Redis): two round trips at once.
    this.services.mysql().catch(() => {})
    const touched = new TouchedIds()
    const drainer = this.drainPort(options.graceMs, touched)
    const fixing = {applied: false}
    try {
      const result = await this.change({
        yes: f.yes, dryRun: !applying, refuseEarly: applying, needs: 'reconcile --fix',
        // Even a reading run takes it: two reconciles at once would double the load for the same answer.
        lock: {name: 'reconcile', wait: f['wait-lock'], when: 'first'},
        progress: 'reconcile',
        work: (ctx) => this.scanAndFix(ctx, options, drainer.drain, fixing),
        outcome: (r) => reconcileOutcome(r, r.fixes, fixing.applied),
        render: (r) => (r.fixes ? renderFixes(r.fixes) : undefined),
        audit: (r) => withIds({window: r.window, found: counts(r), durationMs: r.durationMs, fixes: r.fixes?.checks, interrupted: r.fixes?.interrupted}, fixedIds(touched, r.fixes)),
        auditError: (error) => withIds({fixes: (error as {partialFix?: FixReport}).partialFix}, fixedIds(touched, (error as {partialFix?: FixReport}).partialFix)),
      })
      if (f['metrics-file']) writeMetricsFile(f['metrics-file'], reconcileMetrics(result, Date.now()))
      return result
    } finally {
      await drainer.close().catch(() => {})
    }
  }

  private options(): ReconcileOptions {
    const f = this.flags
    return {
      checks: (f.check ?? [...CHECKS]) as CheckName[],
      since: parseTimeSpec(f.since, '--since'),
      until: f.until ? parseTimeSpec(f.until, '--until') : undefined,
      graceMs: parseDuration(f.grace, '--grace'),
      sample: f.sample,
      batchSize: f['batch-size'],
      plan: f.plan as ReconcileOptions['plan'],
    }
  }

  /** The scan, its report shown, then (with --fix) the confirmation naming every change and the fixes. */
  private async scanAndFix(ctx: ChangeContext, options: ReconcileOptions, drain: DrainPort, fixing: {applied: boolean}): Promise<ReconcileResult> {
    const f = this.flags
    const applying = f.fix && !f['dry-run']
    const has = {drain: true, fixDead: f['fix-dead']}
    const sql = await this.services.mysql()
    const cache = options.checks.includes('cache_drift') ? new RedisCache(await this.services.redis(), this.settings.cache.format, this.settings.cache.field) : undefined
    const ports = {sql, cache, drain}
    // The number of rows is not known in advance (counting first would cost a scan): the bar shows rows read and the rate.
    const report = await reconcile(ports, this.settings, {...options, signal: ctx.signal, onProgress: ({done}) => ctx.progress({done, total: done})})
    ctx.show(() => renderReconcile(report))
    const {fixable, actionable} = selectFixes(report, this.settings, has)
    if (!f.fix || fixable.length === 0) return report
    if (applying && actionable.length > 0 && !(await ctx.confirm(fixQuestion(report, actionable, this.settings, has, ctx.target)))) return report
    fixing.applied = applying && actionable.length > 0
    const cacheWrongType = (f['cache-wrong-type'] ?? 'replace') as 'keep' | 'replace'
    const fixes = await fixFindings(ports, this.settings, {...options, signal: ctx.signal, fix: fixable, fixDead: f['fix-dead'], dryRun: !applying, cacheWrongType}, report)
    return {...report, fixes}
  }

  /**
   * The drain of stuck rows: drainOutbox (the code of `msgops outbox drain`) restricted to the ids found, rows pending
   * for longer than the grace; RabbitMQ is connected only when there is something to drain.
   */
  private drainPort(graceMs: number, touched: TouchedIds): {drain: DrainPort; close(): Promise<void>} {
    let publisher: ConfirmPublisher | undefined
    return {
      drain: async (ids, signal) => {
        const sql = await this.services.mysql()
        publisher ??= new ConfirmPublisher(await this.services.amqp())
        const result = await drainOutbox({sql, publisher: touched.publisher(publisher, 'reconcile:drain'), signal}, {config: this.settings, olderThanMs: graceMs, ids})
        return {sent: result.published, failed: result.returned + result.nacked + result.invalid}
      },
      close: async () => {
        await publisher?.close()
      },
    }
  }
}

function counts(report: ReconcileReport): Record<string, number> {
  return Object.fromEntries(Object.entries(report.checks).map(([k, v]) => [k, v?.count ?? 0]))
}

/** The ids each fix recorded (reconcile keeps the first ones of each check; the rest is counted as not recorded). */
function fixedIds(touched: TouchedIds, fixes: FixReport | undefined): TouchedIds {
  for (const [check, fix] of Object.entries(fixes?.checks ?? {})) if (check !== 'message_stuck' && fix) touched.add(`reconcile:${check}`, fix.ids, fix.fixed)
  return touched
}
