import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {AmqpDeadLetterQueues} from '../../adapters/dlq.js'
import {ConfirmPublisher} from '../../adapters/publisher.js'
import {TouchedIds, withIds} from '../../core/audit.js'
import type {TargetOverride} from '../../core/dlq/decide.js'
import {replayDeadLetters, type ReplayReport} from '../../core/dlq/replay.js'
import {parseDuration} from '../../core/duration.js'
import {OperationError, UsageError} from '../../core/errors.js'
import {changeOutcome} from '../../core/outcome.js'
import {changeFlags, deadLetterFilterFlags, deadLetterFilters} from '../../flags.js'
import {renderReplay, replayQuestion} from '../../render/dlq.js'

export default class DlqReplay extends BaseCommand<typeof DlqReplay> {
  static summary = 'Move dead letters back to the exchange and routing key they came from.'
  static description = `Reads at most the depth seen at the start. Each message that matches the filters is published with confirms and mandatory to its original exchange and routing key (first x-death entry), or to --to-exchange/--to-routing-key, or to --to-queue through the default exchange: body and properties unchanged, plus x-msgops-replayed-at and an incremented x-msgops-replay-count. The dead letter is acked only after its publish was confirmed and not returned.
Messages not moved (not matching, already replayed --max-replays times, unroutable, unconfirmed) are held unacked and go back to the queue, in their original order, when the run ends: none is read twice, none spins. They come back marked redelivered.
Exit 0 when everything that matched moved (or the confirmation was declined), 1 when some failed or were skipped, 2 on errors.`

  static examples = [
    '<%= config.bin %> <%= command.id %> order_queue.dlq --dry-run',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --group 3fa2c1d0 --limit 100 --yes',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --routing-key "order.*" --older-than 10m --rate 50',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --to-queue order_queue_retry --yes --json',
  ]

  static graceful = 'the batch in hand'

  static args = {queue: Args.string({description: 'the dead-letter queue', required: true})}

  static flags = {
    ...deadLetterFilterFlags,
    ...changeFlags,
    limit: Flags.integer({description: 'move at most this many messages', min: 1}),
    'to-exchange': Flags.string({description: 'publish to this exchange instead of the original one', exclusive: ['to-queue']}),
    'to-routing-key': Flags.string({description: 'with --to-exchange: this routing key instead of the original one', dependsOn: ['to-exchange']}),
    'to-queue': Flags.string({description: 'publish to this queue through the default exchange', exclusive: ['to-exchange', 'to-routing-key']}),
    'max-replays': Flags.integer({description: 'leave in place (and report) messages already replayed this many times', default: 5, min: 1}),
    rate: Flags.integer({description: 'messages per second at most', min: 1}),
  }

  async run(): Promise<ReplayReport> {
    const f = this.flags
    const queue = this.args.queue
    if (queue.trim() === '') throw new UsageError('the queue name is empty', 'name the dead-letter queue, e.g. order_queue.dlq')
    const override: TargetOverride | undefined =
      f['to-queue'] !== undefined ? {queue: f['to-queue']} : f['to-exchange'] !== undefined ? {exchange: f['to-exchange'], routingKey: f['to-routing-key']} : undefined
    const options = {
      queue, override, dryRun: f['dry-run'] === true, filters: deadLetterFilters(f), idleMs: parseDuration(f.idle, '--idle'),
      maxReplays: f['max-replays'], limit: f.limit, rate: f.rate, prefetch: f.prefetch,
      errorHeaders: f['error-header'] ?? this.settings.dlq.errorHeaders,
    }
    const amqp = await this.services.amqp()
    const queues = new AmqpDeadLetterQueues(amqp)
    const touched = new TouchedIds()
    const publisher = options.dryRun ? undefined : touched.publisher(new ConfirmPublisher(amqp), 'replay')
    try {
      return await this.change({
        needs: 'dlq replay, purge, restore',
        yes: f.yes, dryRun: options.dryRun,
        lock: {name: `dlq-replay:${queue}`, wait: f['wait-lock']},
        progress: options.dryRun ? 'reading' : 'replaying',
        async work(ctx) {
          const {messages} = await queues.state(queue)
          if (!(await ctx.confirm(replayQuestion(queue, Math.min(messages, f.limit ?? messages), override, ctx.target))))
            return {queue, depth: messages, read: 0, dryRun: false, moved: 0, failed: 0, skipped: 0, left: 0, targets: [], failures: [], skips: [], elapsedMs: 0, interrupted: false, cancelled: true}
          return replayDeadLetters({queues, publisher}, options, ctx.progress, ctx.signal)
        },
        outcome: (r) => changeOutcome(r, r.failed + r.skipped > 0),
        render: renderReplay,
        audit: ({targets, failures, skips, ...counts}) => withIds({...counts, targets, failures: failures.slice(0, 20), skips: skips.slice(0, 20)}, touched),
        auditError: () => withIds({}, touched),
        failure: (r) => (r.stoppedBy ? new OperationError(`replay stopped early: ${r.stoppedBy}`, `moved ${r.moved}; the rest is still in the queue; run again`) : undefined),
      })
    } finally {
      await publisher?.close()
    }
  }
}
