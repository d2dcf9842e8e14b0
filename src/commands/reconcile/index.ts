import {Flags} from '@oclif/core'

import {RedisCache} from '../../adapters/cache.js'
import {ConfirmPublisher} from '../../adapters/publisher.js'
import type {RedisAdapter} from '../../adapters/redis.js'
import {BaseCommand, type ChangeContext} from '../../base-command.js'
import {TouchedIds, withIds} from '../../core/audit.js'
import {parseDuration} from '../../core/duration.js'
import {UsageError} from '../../core/errors.js'
import {maskUrl} from '../../core/mask.js'
import {parsePart, partName} from '../../core/part.js'
import type {ReconcileStore} from '../../core/reconcile/checkpoint.js'
import {drainOutbox} from '../../core/outbox/drain.js'
import {CHECKS, type CheckName} from '../../core/reconcile/checks.js'
import type {DrainPort} from '../../core/reconcile/ports.js'
import {type FixReport, fixFindings, reconcileOutcome, selectFixes} from '../../core/reconcile/fix.js'
import type {ReconcileOptions, ReconcilePorts, ReconcileReport} from '../../core/reconcile/report.js'
import {reconcile} from '../../core/reconcile/run.js'
import {parseTimeSpec} from '../../core/reconcile/window.js'
import {writeMetricsFile} from '../../render/metrics.js'
import {describeChecks, fixQuestion, reconcileMetrics, renderFixes, renderReconcile} from '../../render/reconcile.js'

export type ReconcileResult = ReconcileReport & {fixes?: FixReport}

export default class Reconcile extends BaseCommand<typeof Reconcile> {
  static multiProfile = true

  static summary = 'Compare orders, outbox, inbox and the Redis cache; report every discrepancy and optionally repair it.'
  static description = `Checks, each selectable with --check (default all):
${describeChecks()}
Rows are read in keyset-paginated batches over the window (--since, --until, on each table's own timestamp) and rows younger than --grace are never flagged; Redis is read in pipelined batches.
--fix repairs what can be repaired after a confirmation (message_stuck is drained, sent_not_consumed set back to pending, cache_drift rewritten from MySQL or deleted as cache.onDrift says, message_dead set back to pending only with --fix-dead); the rest is reported, never invented. A cache key of another Redis type than cache.format is a cache_drift finding naming the key; --fix replaces it (its TTL kept), or with --cache-wrong-type keep leaves it and reports it as left. Every fix is audited.
With a read replica (--replica-url, mysql.replicaUrl) the scans read it; the window's clock, every final check of a finding, the fixes and the audit stay on the primary: its lag (SHOW REPLICA STATUS, or mysql.heartbeat) widens the grace, pauses the run while above --max-lag, and a candidate the primary does not confirm is never reported.
--part I/N (or --parts N with $JOB_COMPLETION_INDEX) reconciles one of N key ranges cut by the index statistics; the parts of one run share their window and cuts (through Redis), take their own lock and join with \`msgops reconcile merge\`. --chunk-time sizes the chunks walked, with pauses on --max-load; --resume goes on from the last finished chunk of an interrupted run of the same window and part.
Exit 0 when clean or when --fix repaired everything it found, 1 when anything was found and is left (a declined or dry-run --fix leaves it all), 2 on a usage, configuration or connection error, or when another reconcile holds the lock.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --since 7d --grace 10m --check sent_not_consumed --check cache_drift',
    '<%= config.bin %> <%= command.id %> --json --metrics-file /var/lib/node_exporter/msgops_reconcile.prom',
    '<%= config.bin %> <%= command.id %> --fix --dry-run',
    '<%= config.bin %> <%= command.id %> --fix --fix-dead --yes --wait-lock 10m',
    '<%= config.bin %> <%= command.id %> --replica-url mysql://ro@replica:3306/shop --max-lag 10s',
    '<%= config.bin %> <%= command.id %> --since "2026-11-20" --until "2026-11-21" --part 2/4 --json > part-2.json',
    '<%= config.bin %> <%= command.id %> --parts 8 --json   # in a Kubernetes Indexed Job ($JOB_COMPLETION_INDEX)',
    '<%= config.bin %> <%= command.id %> --resume',
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
    part: Flags.string({description: 'reconcile part I of N disjoint key ranges (1-based), e.g. 2/4; join the parts with `msgops reconcile merge`'}),
    parts: Flags.integer({description: 'reconcile one of N parts, the index from $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)', min: 1, max: 1024}),
    'chunk-time': Flags.string({description: 'walk the keys in chunks sized to take about this long (pause checks and checkpoints between them); 0: one chunk', default: '2s'}),
    'chunk-size': Flags.integer({description: 'keys per table in the first chunk; then tuned to --chunk-time', default: 50_000, min: 1, max: 5_000_000}),
    'max-load': Flags.integer({description: "pause between chunks while a server's Threads_running (others than this run's check) is above this; 0: never", default: 50, min: 0}),
    'max-lag': Flags.string({description: 'with a replica: pause while it lags more than this', default: '30s'}),
    'max-lag-wait': Flags.string({description: 'with a replica: stop (exit 2) after pausing on its lag this long', default: '5m'}),
    resume: Flags.boolean({description: 'go on from the last finished chunk of an interrupted run of the same window and part'}),
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
        lock: {name: options.part ? `reconcile:${partName(options.part)}` : 'reconcile', wait: f['wait-lock'], when: 'first'},
        progress: 'reconcile',
        work: (ctx) => this.scanAndFix(ctx, options, drainer.drain, fixing),
        outcome: (r) => reconcileOutcome(r, r.fixes, fixing.applied),
        render: (r) => (r.fixes ? renderFixes(r.fixes) : undefined),
        audit: (r) => withIds({window: r.window, found: counts(r), durationMs: r.durationMs, fixes: r.fixes?.checks, interrupted: r.fixes?.interrupted}, fixedIds(touched, r.fixes)),
        auditError: (error) => withIds({fixes: (error as {partialFix?: FixReport}).partialFix}, fixedIds(touched, (error as {partialFix?: FixReport}).partialFix)),
      })
      if (f['metrics-file']) writeMetricsFile(f['metrics-file'], reconcileMetrics(result, Date.now()))
      // A part's findings are its own range's: the report says which, so that nobody takes them for the whole.
      if (result.part) this.note(`part ${partName(result.part)} of run ${result.part.run}: join the parts' --json with \`msgops reconcile merge\``)
      return result
    } finally {
      await drainer.close().catch(() => {})
    }
  }

  private options(): ReconcileOptions {
    const f = this.flags
    const chunkTimeMs = f['chunk-time'].trim() === '0' ? 0 : parseDuration(f['chunk-time'], '--chunk-time')
    const maxLagMs = parseDuration(f['max-lag'], '--max-lag')
    if (maxLagMs < 1000) throw new UsageError(`--max-lag ${f['max-lag']} is below a second, the resolution of a replica's lag`, 'use 1s or more, e.g. --max-lag 30s')
    return {
      part: parsePart(f.part, f.parts),
      chunkTimeMs,
      chunkSize: f['chunk-size'],
      throttle: {maxLoad: f['max-load'], maxLagS: maxLagMs / 1000, maxLagWaitMs: parseDuration(f['max-lag-wait'], '--max-lag-wait')},
      resume: f.resume,
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
    const ports = await this.ports(options, drain)
    // The number of rows is not known in advance (counting first would cost a scan): the bar shows rows read and the rate.
    const report = await reconcile(ports, this.settings, {...options, signal: ctx.signal, onProgress: ({done}) => ctx.progress({done, total: done}), onNote: (text) => this.note(text)})
    ctx.show(() => renderReconcile(report))
    const {fixable, actionable} = selectFixes(report, this.settings, has)
    if (!f.fix || fixable.length === 0) return report
    if (applying && actionable.length > 0 && !(await ctx.confirm(fixQuestion(report, actionable, this.settings, has, ctx.target)))) return report
    fixing.applied = applying && actionable.length > 0
    const cacheWrongType = (f['cache-wrong-type'] ?? 'replace') as 'keep' | 'replace'
    // Fixes write to the primary, over the part's own ranges.
    const fixes = await fixFindings({...ports, replica: undefined}, this.settings, {...options, signal: ctx.signal, fix: fixable, fixDead: f['fix-dead'], dryRun: !applying, keys: report.part?.ranges, cacheWrongType}, report)
    return {...report, fixes}
  }

  /** The primary, the replica when one is configured, Redis (the cache, the checkpoints, the parts' shared plan). */
  private async ports(options: ReconcileOptions, drain: DrainPort): Promise<ReconcilePorts> {
    const [sql, redis, replica] = await Promise.all([this.services.mysql(), this.services.redis(), this.services.replica()])
    const cache = options.checks.includes('cache_drift') ? new RedisCache(redis, this.settings.cache.format, this.settings.cache.field) : undefined
    const named = replica && {sql: replica, name: new URL(replica.url).host, url: maskUrl(replica.url), heartbeat: this.settings.mysql.heartbeat}
    return {sql, cache, drain, replica: named, store: redisStore(redis), storePrefix: this.settings.redis.keyPrefix}
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

/** Checkpoints and the parts' shared plan in Redis. */
function redisStore(redis: RedisAdapter): ReconcileStore {
  return {
    get: (key) => redis.get(key),
    setIfAbsent: (key, value, ttlMs) => redis.setIfAbsent(key, value, ttlMs),
    set: async (key, value, ttlMs) => {
      await redis.run(() => redis.client.set(key, value, 'PX', ttlMs))
    },
    delete: async (key) => {
      await redis.run(() => redis.client.del(key))
    },
  }
}
