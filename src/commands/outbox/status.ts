import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {formatDuration, parseDuration} from '../../core/duration.js'
import {sleep} from '../../core/time.js'
import {humanTime} from '../../render/time.js'
import {UsageError} from '../../core/errors.js'
import {outboxStatus, type StatusReport} from '../../core/outbox/status.js'
import {writeMetricsFile} from '../../render/metrics.js'
import {renderStatus, statusMetrics} from '../../render/outbox.js'

export default class OutboxStatus extends BaseCommand<typeof OutboxStatus> {
  static multiProfile = true

  static summary = 'Show the outbox at a glance: rows per status, oldest pending row, stuck rows, attempts, send rate.'
  static description = `Counts rows per status (with the configured status names), the age of the oldest pending row, how many pending rows are older than --stuck-after, a histogram of failed attempts, the rows sent in the last 1 m / 5 m / 1 h (when a sent-at column is mapped), the top event types among pending rows, the table's size (rows and bytes from the statistics) and the sent rows older than outbox.retention (what outbox prune would delete). A table without a time column (outbox.columns.createdAt) gets no ages and no stuck count, and says so.
With --fail-if-pending-older-than, --fail-if-dead-letters or --fail-if-prunable it exits 1 when a threshold is breached, for cron alerts. --metrics-file writes the figures in Prometheus text format (atomically) for node_exporter's textfile collector.
Exit 0 all good, 1 a threshold breached, 2 a configuration or connection error.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --fail-if-pending-older-than 10m --fail-if-dead-letters 1',
    '<%= config.bin %> <%= command.id %> --metrics-file /var/lib/node_exporter/textfile/msgops_outbox.prom',
    '<%= config.bin %> <%= command.id %> --watch 5s',
  ]

  static graceful = 'the refresh in hand'

  static flags = {
    'stuck-after': Flags.string({description: 'pending rows older than this count as stuck', default: '5m'}),
    'fail-if-pending-older-than': Flags.string({description: 'exit 1 when the oldest pending row is older than this, e.g. 10m'}),
    'fail-if-dead-letters': Flags.integer({description: 'exit 1 when there are at least this many dead-letter rows', min: 1}),
    'fail-if-prunable': Flags.integer({description: 'exit 1 when at least this many sent rows are older than outbox.retention (time to run outbox prune)', min: 1}),
    'metrics-file': Flags.string({description: 'write the figures to this file in Prometheus text format (temp file + rename)'}),
    watch: Flags.string({description: 'refresh at this interval until Ctrl-C, e.g. 5s or 1m (a bare number is seconds)'}),
  }

  async run(): Promise<StatusReport> {
    const f = this.flags
    if (f.watch !== undefined && this.jsonEnabled()) throw new UsageError('--watch cannot be combined with --json', 'leave out --watch, or --json')
    const everyMs = f.watch === undefined ? undefined : watchInterval(f.watch)
    const options = {
      config: this.settings,
      stuckAfterMs: parseDuration(f['stuck-after'], '--stuck-after'),
      failIfPendingOlderThanMs: f['fail-if-pending-older-than'] === undefined ? undefined : parseDuration(f['fail-if-pending-older-than'], '--fail-if-pending-older-than'),
      failIfDeadLetters: f['fail-if-dead-letters'],
      failIfPrunable: f['fail-if-prunable'],
    }
    // A read replica when one is configured (--replica-url, mysql.replicaUrl): nothing here writes.
    const sql = await this.services.reader()
    for (;;) {
      const report = await outboxStatus(sql, options)
      if (f['metrics-file']) writeMetricsFile(f['metrics-file'], statusMetrics(report))
      if (everyMs === undefined) {
        this.print(renderStatus(report))
        this.found(report.alerts.length > 0)
        return report
      }
      // A terminal gets a refreshed screen; a pipe gets one report after another.
      if (process.stdout.isTTY) process.stdout.write('\u001B[2J\u001B[H')
      this.print(`${humanTime(new Date().toISOString())} · every ${formatDuration(everyMs)} · Ctrl-C to stop\n${renderStatus(report)}\n`)
      await sleep(everyMs, this.signal)
      if (this.signal.aborted) {
        this.found(report.alerts.length > 0)
        return report
      }
    }
  }
}

/** --watch's interval: a duration (5s, 1m), or a bare number of seconds as it was first spelled; 1 s to 1 h. */
function watchInterval(input: string): number {
  const ms = /^\s*\d+\s*$/.test(input) ? Number(input) * 1000 : parseDuration(input, '--watch')
  if (ms < 1000 || ms > 3_600_000) throw new UsageError(`--watch ${input} is out of range`, 'use from 1s to 1h')
  return ms
}
