import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {ConfirmPublisher} from '../../adapters/publisher.js'
import type {TargetOverride} from '../../core/dlq/decide.js'
import {countRestorable, restoreArchive, type RestoreReport} from '../../core/dlq/restore.js'
import {UsageError} from '../../core/errors.js'
import {changeOutcome} from '../../core/outcome.js'
import {withTimeout} from '../../core/time.js'
import {changeFlags, deadLetterFilterFlags, deadLetterFilters} from '../../flags.js'
import {renderRestore, restoreQuestion} from '../../render/restore.js'

const {group, 'routing-key': routingKey, header, 'message-id': messageId, reason, 'older-than': olderThan, 'error-header': errorHeader} = deadLetterFilterFlags

export default class DlqRestore extends BaseCommand<typeof DlqRestore> {
  static summary = 'Publish a dlq purge --archive file back, each line once.'
  static description = `Reads the JSON-lines archive that \`msgops dlq purge --archive\` wrote (.gz read as gzip) and publishes each message that matches the filters, with confirms and mandatory, to its original exchange and routing key (first x-death entry), or to --to-exchange/--to-routing-key, or to --to-queue: body and properties as archived, plus x-msgops-replayed-at and an incremented x-msgops-replay-count.
A side file (--ledger, default FILE.restored) marks each batch before it is published and again once the broker confirmed it, fsynced both times: a second run publishes only what is not marked done. A crash between the two leaves at most one batch (--batch-size) in doubt: the next run publishes it again, with the same message ids, and says so.
Exit 0 when every matching line was published (or the confirmation was declined), 1 when some were returned, nacked, invalid or had nowhere to go, 2 on errors, 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> /var/backups/order-dlq.jsonl --dry-run',
    '<%= config.bin %> <%= command.id %> /var/backups/order-dlq.jsonl --routing-key "order.*" --yes',
    '<%= config.bin %> <%= command.id %> /var/backups/order-dlq.jsonl --to-queue order_queue_retry --rate 100 --yes --json',
  ]

  static graceful = 'the batch in hand'

  static args = {file: Args.string({description: 'the archive written by dlq purge --archive', required: true})}

  static flags = {
    group, 'routing-key': routingKey, header, 'message-id': messageId, reason, 'older-than': olderThan, 'error-header': errorHeader,
    ...changeFlags,
    ledger: Flags.string({description: 'the side file marking restored lines (default FILE.restored)'}),
    limit: Flags.integer({description: 'publish at most this many messages', min: 1}),
    'batch-size': Flags.integer({description: 'messages confirmed together (at most this many are in doubt after a crash)', default: 100, min: 1, max: 10_000}),
    'to-exchange': Flags.string({description: 'publish to this exchange instead of the original one', exclusive: ['to-queue']}),
    'to-routing-key': Flags.string({description: 'with --to-exchange: this routing key instead of the original one', dependsOn: ['to-exchange']}),
    'to-queue': Flags.string({description: 'publish to this queue through the default exchange', exclusive: ['to-exchange', 'to-routing-key']}),
    rate: Flags.integer({description: 'messages per second at most', min: 1}),
  }

  async run(): Promise<RestoreReport> {
    const f = this.flags
    const file = this.args.file
    if (file.trim() === '') throw new UsageError('the archive file name is empty', 'name the file dlq purge --archive wrote')
    const override: TargetOverride | undefined =
      f['to-queue'] !== undefined ? {queue: f['to-queue']} : f['to-exchange'] !== undefined ? {exchange: f['to-exchange'], routingKey: f['to-routing-key']} : undefined
    const options = {
      file, ledger: f.ledger ?? `${file}.restored`, filters: deadLetterFilters(f), override, limit: f.limit, rate: f.rate, dryRun: f['dry-run'],
      batchSize: f['batch-size'], errorHeaders: f['error-header'] ?? this.settings.dlq.errorHeaders,
    }
    const plan = await countRestorable(options)
    const publisher = options.dryRun ? undefined : new ConfirmPublisher(await this.services.amqp())
    try {
      return await this.change({
        yes: f.yes, dryRun: options.dryRun,
        lock: {name: `dlq-restore:${options.ledger}`, wait: f['wait-lock']},
        progress: options.dryRun ? undefined : 'restoring',
        async work(ctx) {
          if (options.dryRun) return plan
          if (!(await ctx.confirm(restoreQuestion(file, plan.restored, override, ctx.target)))) return {...plan, dryRun: false, restored: 0, targets: [], cancelled: true}
          return restoreArchive(publisher, options, ctx.progress, ctx.signal)
        },
        outcome: (r) => changeOutcome(r, r.failed + r.invalid + r.noTarget > 0),
        render: renderRestore,
        audit: ({failures, targets, inDoubt, ...counts}) => ({...counts, targets, inDoubt: inDoubt.length, failures: failures.slice(0, 20)}),
      })
    } finally {
      await withTimeout(publisher?.close() ?? Promise.resolve(), 2000).catch(() => {})
    }
  }
}
