import {Flags} from '@oclif/core'

import {SnapshotSources} from '../adapters/snapshot.js'
import {BaseCommand} from '../base-command.js'
import {parseDuration} from '../core/duration.js'
import {ConnectionError} from '../core/errors.js'
import {judge, thresholdsFrom} from '../core/snapshot/judge.js'
import {SOURCES, type Snapshot} from '../core/snapshot/model.js'
import {boundedDuration, snapshotOptions} from '../core/snapshot/options.js'
import {Snapshotter} from '../core/snapshot/snapshot.js'
import {snapshotFlags} from '../flags.js'
import {colorEnabled} from '../render/color.js'
import {renderTop} from '../render/top.js'
import {runLive} from '../render/top-live.js'

export default class Top extends BaseCommand<typeof Top> {
  static summary = 'The live view: outbox backlog and age, queues and dead-letter queues, consumers, inbox lag, last reconcile, locks.'
  static description = `Reads every source side by side, each within --timeout (a source that does not answer shows as stale or unreachable while the others are shown), and refreshes every --interval. Keys: q quit, p pause, r refresh, Tab and the arrows select a failure group or a queue, Enter shows its detail and the msgops command to act on it, ? help.
Colours follow top.thresholds in the configuration (the --fail-if-* flags override them). With --once, --json or no terminal it prints one snapshot and exits.
Exit 0 all good, 1 a threshold breached (with --once), 2 a usage or configuration error or a source unreachable (with --once), 130 Ctrl-C.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --topology examples/topology.yaml --interval 5s',
    '<%= config.bin %> <%= command.id %> --once --fail-if-pending-older-than 10m --fail-if-dlq-messages 1',
  ]

  static flags = {
    ...snapshotFlags,
    interval: Flags.string({description: 'refresh every this long, e.g. 2s or 1m (a bare number is seconds)', default: '2s'}),
    once: Flags.boolean({description: 'print one snapshot and exit (exit 1 when a threshold is breached)'}),
    'fail-if-pending-older-than': Flags.string({description: 'threshold: the oldest pending outbox row older than this (overrides top.thresholds.pendingAge)'}),
    'fail-if-dead-letters': Flags.integer({description: 'threshold: at least this many dead-letter outbox rows (overrides top.thresholds.deadLetterRows)', min: 1}),
    'fail-if-dlq-messages': Flags.integer({description: 'threshold: a dead-letter queue holding at least this many messages (overrides top.thresholds.dlqMessages)', min: 1}),
    'fail-if-lag': Flags.string({description: 'threshold: inbox processing lag p99 above this (overrides top.thresholds.inboxLagP99)'}),
  }

  async run(): Promise<(Snapshot & {alerts: string[]}) | undefined> {
    const f = this.flags
    const intervalMs = boundedDuration(f.interval, '--interval', 500, 3_600_000, '500ms to 1h')
    const thresholds = thresholdsFrom(this.settings, {
      pendingAgeMs: f['fail-if-pending-older-than'] === undefined ? undefined : parseDuration(f['fail-if-pending-older-than'], '--fail-if-pending-older-than'),
      deadLetterRows: f['fail-if-dead-letters'],
      dlqMessages: f['fail-if-dlq-messages'],
      inboxLagP99Ms: f['fail-if-lag'] === undefined ? undefined : parseDuration(f['fail-if-lag'], '--fail-if-lag'),
    })
    const options = await snapshotOptions(this.settings, {queues: f.queue, topologyFile: f.topology, timeout: f.timeout, stuckAfter: f['stuck-after'], reconcileMetricsFile: f['reconcile-metrics-file']})
    const sources = new SnapshotSources(this.settings, Math.min(this.services.timeoutMs, options.timeoutMs), Math.max(10_000, 5 * options.timeoutMs))
    const snapshotter = new Snapshotter(sources, options)
    try {
      if (f.once || this.jsonEnabled() || !process.stdout.isTTY) {
        const snapshot = await snapshotter.take()
        const judgement = judge(snapshot, thresholds)
        this.print(() => renderTop({snapshot, judgement, history: {backlog: [], oldestS: [], dlq: []}, width: process.stdout.columns ?? 100, height: Infinity, intervalMs, live: false, color: colorEnabled()}).join('\n'))
        const result = {...snapshot, alerts: judgement.alerts}
        const down = SOURCES.filter((s) => snapshot[s].state === 'unreachable')
        if (down.length > 0) throw Object.assign(new ConnectionError(down.join(', '), `unreachable: ${down.map((s) => `${s} (${snapshot[s].error})`).join('; ')}`, 'the other sources were shown'), {result})
        this.found(judgement.alerts.length > 0)
        return result
      }
      const end = await runLive({intervalMs, take: () => snapshotter.take(), judge: (s) => judge(s, thresholds), signal: this.signal})
      if (end === 'ctrl-c') this.conclude('interrupted')
      return undefined
    } finally {
      await sources.close()
    }
  }
}
