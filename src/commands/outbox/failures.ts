import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {checkGroup, outboxFailures, parseKinds, parseWindow, type FailuresReport} from '../../core/outbox/failures.js'
import {renderFailures} from '../../render/failures.js'
import {progressBar} from '../../render/progress.js'

export default class OutboxFailures extends BaseCommand<typeof OutboxFailures> {
  static summary = 'Failed and dead-letter outbox rows grouped by failure fingerprint.'
  static description = `Reads the failed rows (pending, attempts >= 1) and the dead-letter rows, never the sent ones, on the (status, created_at) index in keyset batches, and groups them by fingerprint: the last error with its varying parts removed (numbers, ids, UUIDs, hex, quoted values, times, host:port) and the event type (else the routing key). Each group shows its rows, first and last seen (created_at), event types, a sample error and ids. A table without a last error column groups by event type only, and says so.
The fingerprint is what outbox requeue --group and outbox discard --group take.
Exit 0 when there is no failed row, 1 when there are (or, with --group, when the group has no row), 2 on errors.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --since 24h --status dead-letter',
    '<%= config.bin %> <%= command.id %> --event-type order.created --since "2026-11-20 10:00" --until "2026-11-20 12:00" --json',
  ]

  static flags = {
    since: Flags.string({description: 'rows created at or after this: a duration ago (24h) or a database time (2026-11-20 10:30)'}),
    until: Flags.string({description: 'rows created before this: a duration ago or a database time'}),
    'event-type': Flags.string({description: 'rows of this event type'}),
    status: Flags.string({description: 'failed (pending with failed attempts) or dead-letter; repeatable (both by default)', multiple: true}),
    group: Flags.string({description: 'only this group (a fingerprint)'}),
    limit: Flags.integer({description: 'read at most this many rows', default: 5_000_000, min: 1}),
  }

  async run(): Promise<FailuresReport> {
    const f = this.flags
    const options = {config: this.settings, kinds: parseKinds(f.status), ...parseWindow(f.since, f.until), eventType: f['event-type'], group: f.group === undefined ? undefined : checkGroup(f.group), limit: f.limit, signal: this.signal}
    const sql = await this.services.mysql()
    const bar = progressBar('reading', !this.jsonEnabled())
    let report: FailuresReport
    try {
      report = await outboxFailures(sql, options, bar.update)
    } finally {
      bar.stop()
    }
    if (options.group !== undefined && report.groups.length === 0) this.note(`no failed or dead-letter row is in group ${options.group}${f.since || f.until ? ' in that window' : ''}; msgops outbox failures lists the groups`)
    else this.print(renderFailures(report))
    this.found(report.groups.length > 0 || options.group !== undefined)
    return report
  }
}
