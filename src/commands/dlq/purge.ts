import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {AmqpDeadLetterQueues, JsonlArchive} from '../../adapters/dlq.js'
import {purgeDeadLetters, type PurgeReport} from '../../core/dlq/purge.js'
import {parseDuration} from '../../core/duration.js'
import {changeOutcome} from '../../core/outcome.js'
import {changeFlags, deadLetterFilterFlags, deadLetterFilters, deliveriesFlag} from '../../flags.js'
import {purgeQuestion, renderPurge} from '../../render/dlq.js'

export default class DlqPurge extends BaseCommand<typeof DlqPurge> {
  static summary = 'Remove dead letters, optionally keeping each one in a JSON-lines archive first.'
  static description = `Reads at most the depth seen at the start and acks (removes) every message that matches the filters; the others go back to the queue in their original order when it ends.
With --archive FILE.jsonl, each message is appended to the file as one JSON line (properties, headers, body as UTF-8 text or base64) and the file is flushed to disk (fsync) before the message is acked, so nothing is thrown away that was not kept. The file is appended to, never truncated.
Exit 0 on success (or when the confirmation was declined), 2 on errors.`

  static examples = [
    '<%= config.bin %> <%= command.id %> order_queue.dlq --archive /var/backups/order-dlq.jsonl',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --reason expired --older-than 7d --yes',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --dry-run --json',
  ]

  static graceful = 'the batch in hand'

  static args = {queue: Args.string({description: 'the dead-letter queue', required: true})}

  static flags = {
    ...deadLetterFilterFlags,
    ...deliveriesFlag,
    ...changeFlags,
    archive: Flags.string({description: 'append each message to this JSON-lines file (flushed) before removing it'}),
    limit: Flags.integer({description: 'remove at most this many messages', min: 1}),
  }

  async run(): Promise<PurgeReport> {
    const f = this.flags
    const queue = this.args.queue
    const options = {
      queue, dryRun: f['dry-run'] === true, filters: deadLetterFilters(f), idleMs: parseDuration(f.idle, '--idle'), limit: f.limit, prefetch: f.prefetch,
      errorHeaders: f['error-header'] ?? this.settings.dlq.errorHeaders,
    }
    await this.guardDeliveries(queue, f['allow-deliveries'])
    const queues = new AmqpDeadLetterQueues(await this.services.amqp())
    let archive: JsonlArchive | undefined
    try {
      return await this.change({
        needs: 'dlq replay, purge, restore',
        yes: f.yes, dryRun: options.dryRun,
        // The same lock as replay: a purge and a replay of one queue must not read it side by side.
        lock: {name: `dlq-replay:${queue}`, wait: f['wait-lock']},
        progress: options.dryRun ? 'reading' : 'purging',
        async work(ctx) {
          const {messages} = await queues.state(queue)
          if (!(await ctx.confirm(purgeQuestion(queue, Math.min(messages, f.limit ?? messages), f.archive, ctx.target))))
            return {queue, depth: messages, read: 0, dryRun: false, purged: 0, archived: 0, left: 0, interrupted: false, cancelled: true}
          archive = f.archive && !options.dryRun ? await JsonlArchive.open(f.archive) : undefined
          return purgeDeadLetters({queues, archive}, options, ctx.progress, ctx.signal)
        },
        outcome: (r) => changeOutcome(r, false),
        render: renderPurge,
        audit: (r) => ({...r}),
      })
    } finally {
      await archive?.close()
    }
  }
}
