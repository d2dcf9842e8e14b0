import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {AmqpDeadLetterQueues} from '../../adapters/dlq.js'
import {ConfirmPublisher} from '../../adapters/publisher.js'
import {DEFAULT_ERROR_HEADERS} from '../../core/dlq/deaths.js'
import {type DeadLetterFilters, filtersFromInput, type TargetOverride} from '../../core/dlq/decide.js'
import {replayDeadLetters, type ReplayReport} from '../../core/dlq/replay.js'
import {parseDuration} from '../../core/duration.js'
import {OperationError, UsageError} from '../../core/errors.js'
import {renderReplay} from '../../render/dlq.js'
import {progressBar} from '../../render/progress.js'

/** The filters shared by replay and purge. */
export const filterFlags = {
  group: Flags.string({description: 'only messages of this group (a key printed by dlq inspect); repeatable', multiple: true}),
  'routing-key': Flags.string({description: 'only messages whose original routing key matches this glob (* any characters, ? one)'}),
  header: Flags.string({description: 'only messages with this header value, as name=value; repeatable, all must match', multiple: true}),
  'message-id': Flags.string({description: 'only the message with this id; repeatable', multiple: true}),
  reason: Flags.string({description: 'only messages whose first death reason is this; repeatable', multiple: true, options: ['rejected', 'expired', 'maxlen', 'delivery_limit', 'none']}),
  'older-than': Flags.string({description: 'only messages dead-lettered at least this long ago, e.g. 30m, 2h'}),
  'error-header': Flags.string({description: `header holding the error text, for --group keys; repeatable; replaces the configured dlq.errorHeaders (by default ${DEFAULT_ERROR_HEADERS.join(', ')})`, multiple: true}),
  idle: Flags.string({description: 'stop reading when no message arrives for this long', default: '2s'}),
  prefetch: Flags.integer({description: 'deliveries in flight from the queue', default: 200, min: 1, max: 65_535}),
}

export function filtersFromFlags(flags: {group?: string[]; 'routing-key'?: string; header?: string[]; 'message-id'?: string[]; reason?: string[]; 'older-than'?: string}): DeadLetterFilters {
  return filtersFromInput({
    groups: flags.group,
    routingKey: flags['routing-key'],
    headers: flags.header,
    messageIds: flags['message-id'],
    reasons: flags.reason,
    olderThanMs: flags['older-than'] === undefined ? undefined : parseDuration(flags['older-than'], '--older-than'),
  })
}

export default class DlqReplay extends BaseCommand<typeof DlqReplay> {
  static summary = 'Move dead letters back to the exchange and routing key they came from.'
  static description = `Reads at most the depth seen at the start. Each message that matches the filters is published with confirms and mandatory to its original exchange and routing key (first x-death entry), or to --to-exchange/--to-routing-key, or to --to-queue through the default exchange: body and properties unchanged, plus x-msgops-replayed-at and an incremented x-msgops-replay-count. The dead letter is acked only after its publish was confirmed and not returned.
Messages not moved (not matching, already replayed --max-replays times, unroutable, unconfirmed) are held unacked and go back to the queue, in their original order, when the run ends: none is read twice, none spins. They come back marked redelivered.
Exit 0 when everything that matched moved, 1 when some failed or were skipped, 2 on errors.`

  static examples = [
    '<%= config.bin %> <%= command.id %> order_queue.dlq --dry-run',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --group 3fa2c1d0 --limit 100 --yes',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --routing-key "order.*" --older-than 10m --rate 50',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --to-queue order_queue_retry --yes --json',
  ]

  static graceful = true

  static args = {queue: Args.string({description: 'the dead-letter queue', required: true})}

  static flags = {
    ...filterFlags,
    limit: Flags.integer({description: 'move at most this many messages', min: 1}),
    'to-exchange': Flags.string({description: 'publish to this exchange instead of the original one', exclusive: ['to-queue']}),
    'to-routing-key': Flags.string({description: 'with --to-exchange: this routing key instead of the original one', dependsOn: ['to-exchange']}),
    'to-queue': Flags.string({description: 'publish to this queue through the default exchange', exclusive: ['to-exchange', 'to-routing-key']}),
    'max-replays': Flags.integer({description: 'leave in place (and report) messages already replayed this many times', default: 5, min: 1}),
    rate: Flags.integer({description: 'messages per second at most', min: 1}),
    'dry-run': Flags.boolean({description: 'show what would go where, counts per target; move nothing'}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    'wait-lock': Flags.string({description: 'wait this long for another run on the same queue to finish, e.g. 5m'}),
  }

  async run(): Promise<ReplayReport> {
    const {queue} = this.args
    const filters = filtersFromFlags(this.flags)
    const idleMs = parseDuration(this.flags.idle, '--idle')
    if (queue.trim() === '') throw new UsageError('the queue name is empty', 'name the dead-letter queue, e.g. order_queue.dlq')
    let override: TargetOverride | undefined
    if (this.flags['to-queue'] !== undefined) override = {queue: this.flags['to-queue']}
    else if (this.flags['to-exchange'] !== undefined) override = {exchange: this.flags['to-exchange'], routingKey: this.flags['to-routing-key']}
    const amqp = await this.services.amqp()
    const queues = new AmqpDeadLetterQueues(amqp)
    const dryRun = this.flags['dry-run']
    let signal = this.signal
    let lost: AbortSignal | undefined
    if (!dryRun) {
      const {messages} = await queues.state(queue)
      const count = this.flags.limit === undefined ? messages : Math.min(messages, this.flags.limit)
      if (!(await this.confirm(`Replay up to ${count} dead letters from ${queue}?`, this.flags.yes))) {
        this.note('cancelled: nothing was moved')
        return {queue, depth: messages, read: 0, dryRun, moved: 0, failed: 0, skipped: 0, left: 0, targets: [], failures: [], skips: [], elapsedMs: 0, interrupted: false}
      }
      const held = await this.lock(`dlq-replay:${queue}`, this.flags['wait-lock'])
      lost = held.lost
      signal = AbortSignal.any([this.signal, held.lost])
    }
    const publisher = dryRun ? undefined : new ConfirmPublisher(amqp)
    const bar = progressBar(dryRun ? 'reading' : 'replaying', !this.jsonEnabled())
    let report: ReplayReport
    try {
      report = await replayDeadLetters(
        {queues, publisher},
        {
          queue, filters, override, dryRun, idleMs,
          maxReplays: this.flags['max-replays'],
          limit: this.flags.limit,
          rate: this.flags.rate,
          prefetch: this.flags.prefetch,
          errorHeaders: this.flags['error-header'] ?? this.settings.dlq.errorHeaders,
        },
        bar.update,
        signal,
      )
    } finally {
      bar.stop()
      await publisher?.close()
    }
    if (!dryRun) {
      const {targets, failures, skips, ...counts} = report
      await this.audit({...counts, targets, failures: failures.slice(0, 20), skips: skips.slice(0, 20)}, report.stoppedBy ? 2 : report.failed + report.skipped > 0 ? 1 : 0)
    }
    this.print(renderReplay(report))
    if (lost?.aborted) throw lost.reason
    if (report.stoppedBy) throw new OperationError(`replay stopped early: ${report.stoppedBy}`, `moved ${report.moved}; the rest is still in the queue; run again`)
    this.found(report.failed + report.skipped > 0)
    return report
  }
}
