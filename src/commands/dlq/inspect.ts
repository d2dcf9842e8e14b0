import {Args, Flags} from '@oclif/core'

import {deliveriesFlag} from '../../flags.js'
import {BaseCommand} from '../../base-command.js'
import {AmqpDeadLetterQueues} from '../../adapters/dlq.js'
import {DEFAULT_ERROR_HEADERS} from '../../config/defaults.js'
import {inspectDeadLetters, type InspectReport} from '../../core/dlq/inspect.js'
import {parseDuration} from '../../core/duration.js'
import {renderInspect} from '../../render/dlq.js'
import {progressBar} from '../../render/progress.js'

export default class DlqInspect extends BaseCommand<typeof DlqInspect> {
  static summary = 'Show what is in a dead-letter queue and why, grouped by first death; takes nothing out.'
  static description = `Prints the depth and consumers, then the messages grouped by first death reason (rejected, expired, maxlen, delivery_limit), first death queue, original exchange and routing key (from x-death) and error header, each group with a count and its oldest and newest death time; --sample N shows N messages with headers, message id and a cut body.
How it reads without taking anything: it consumes with manual acks and holds every delivery unacked, reading at most the depth seen at the start (and at most --limit), then closes its channel, which returns all of them to the queue in their original order. They come back marked redelivered (harmless for a dead-letter queue). While it runs, the messages it holds are invisible to other consumers of the queue. On a quorum queue with a delivery limit, each return counts as a delivery.
The group key (8 hex characters) is what dlq replay --group takes.
Exit 0 when the queue is empty, 1 when it holds messages, 2 on errors.`

  static examples = [
    '<%= config.bin %> <%= command.id %> order_queue.dlq',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --sample 3',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --limit 500 --error-header x-exception-message --json',
  ]

  static args = {queue: Args.string({description: 'the dead-letter queue', required: true})}

  static flags = {
    ...deliveriesFlag,
    limit: Flags.integer({description: 'read at most this many messages (--max is the old spelling)', default: 10_000, min: 1, aliases: ['max']}),
    sample: Flags.integer({description: 'show this many messages in full (headers, message id, cut body)', default: 0, min: 0}),
    'body-chars': Flags.integer({description: 'characters of each sample body shown', default: 200, min: 0}),
    'error-header': Flags.string({description: `header holding the error text; repeatable; replaces the configured dlq.errorHeaders (by default ${DEFAULT_ERROR_HEADERS.join(', ')})`, multiple: true}),
    idle: Flags.string({description: 'stop reading when no message arrives for this long', default: '2s'}),
  }

  async run(): Promise<InspectReport> {
    await this.guardDeliveries(this.args.queue, this.flags['allow-deliveries'])
    const amqp = await this.services.amqp()
    const bar = progressBar('reading', !this.jsonEnabled())
    let report: InspectReport
    try {
      report = await inspectDeadLetters(
        new AmqpDeadLetterQueues(amqp),
        {
          queue: this.args.queue,
          max: this.flags.limit,
          sample: this.flags.sample,
          bodyChars: this.flags['body-chars'],
          errorHeaders: this.flags['error-header'] ?? this.settings.dlq.errorHeaders,
          idleMs: parseDuration(this.flags.idle, '--idle'),
          prefetch: 1000,
        },
        bar.update,
        this.signal,
      )
    } finally {
      bar.stop()
    }
    this.print(renderInspect(report))
    this.found(report.depth > 0)
    return report
  }
}
