import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {parseDuration} from '../../core/duration.js'
import {requeueOutbox, type RequeueResult} from '../../core/outbox/requeue.js'
import {renderRequeue} from '../../render/outbox.js'
import {progressBar} from '../../render/progress.js'

export default class OutboxRequeue extends BaseCommand<typeof OutboxRequeue> {
  static summary = 'Put dead-letter outbox rows back to pending, with their attempts reset.'
  static description = `Selects dead-letter rows by --id (repeatable), --event-type, --older-than and --error-contains (all given filters apply), or every one with --all. The last error is kept as history. The next drain publishes them again.
Exit 0 done (or nothing matched), 2 a usage, configuration or connection error, 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --error-contains NO_ROUTE --dry-run',
    '<%= config.bin %> <%= command.id %> --id 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c --id 7d1e… --yes',
    '<%= config.bin %> <%= command.id %> --event-type order.created --older-than 1h --yes',
    '<%= config.bin %> <%= command.id %> --all --yes --json',
  ]

  static graceful = 'the batch in hand'

  static flags = {
    id: Flags.string({description: 'a row id (repeatable)', multiple: true}),
    'event-type': Flags.string({description: 'rows of this event type'}),
    'older-than': Flags.string({description: 'rows created at least this long ago, e.g. 1h'}),
    'error-contains': Flags.string({description: 'rows whose last error contains this text'}),
    all: Flags.boolean({description: 'every dead-letter row'}),
    'dry-run': Flags.boolean({description: 'count and show a sample, change nothing'}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
  }

  async run(): Promise<RequeueResult> {
    const f = this.flags
    const sql = await this.services.mysql()
    const bar = progressBar('requeue', !this.jsonEnabled())
    const result = await requeueOutbox(sql, {
      config: this.settings,
      ids: f.id,
      eventType: f['event-type'],
      olderThanMs: f['older-than'] === undefined ? undefined : parseDuration(f['older-than'], '--older-than'),
      errorContains: f['error-contains'],
      all: f.all,
      dryRun: f['dry-run'],
      signal: this.signal,
      confirm: ({matching}) => this.confirm(`Put ${matching.toLocaleString('en-US')} dead-letter row${matching === 1 ? '' : 's'} back to pending?`, f.yes),
    }, bar.update)
    bar.stop()
    this.print(renderRequeue(result))
    if (!result.dryRun && !result.cancelled && result.matching > 0) await this.audit({matching: result.matching, requeued: result.requeued, interrupted: result.interrupted})
    return result
  }
}
