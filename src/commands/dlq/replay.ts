import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {AmqpDeadLetterQueues} from '../../adapters/dlq.js'
import {ConfirmPublisher} from '../../adapters/publisher.js'
import {TouchedIds, withIds} from '../../core/audit.js'
import type {TargetOverride} from '../../core/dlq/decide.js'
import {readFile} from 'node:fs/promises'

import {jsonSafe} from '../../core/dlq/deaths.js'
import {bodyForEditor, editedBody, type EditReplayReport, replayEdited, withHeaders} from '../../core/dlq/edit.js'
import {DEFAULT_MAX_REPLAYS, replayDeadLetters, type ReplayReport} from '../../core/dlq/replay.js'
import {parseDuration} from '../../core/duration.js'
import {OperationError, oneLine, UsageError} from '../../core/errors.js'
import {changeOutcome} from '../../core/outcome.js'
import {changeFlags, deadLetterFilterFlags, deadLetterFilters, deliveriesFlag} from '../../flags.js'
import {editReplayQuestion, renderEditReplay, renderReplay, replayQuestion} from '../../render/dlq.js'
import {chosenEditor, editText} from '../../render/editor.js'
import {renderDiff} from '../../render/failures.js'

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
    ...deliveriesFlag,
    ...changeFlags,
    limit: Flags.integer({description: 'move at most this many messages', min: 1}),
    'to-exchange': Flags.string({description: 'publish to this exchange instead of the original one', exclusive: ['to-queue']}),
    'to-routing-key': Flags.string({description: 'with --to-exchange: this routing key instead of the original one', dependsOn: ['to-exchange']}),
    'to-queue': Flags.string({description: 'publish to this queue through the default exchange', exclusive: ['to-exchange', 'to-routing-key']}),
    'max-replays': Flags.integer({description: 'leave in place (and report) messages already replayed this many times', default: DEFAULT_MAX_REPLAYS, min: 1}),
    rate: Flags.integer({description: 'messages per second at most', min: 1}),
    edit: Flags.boolean({description: 'with one --message-id: edit its body in $VISUAL/$EDITOR, publish the edited copy with confirms, then ack the original'}),
    'body-file': Flags.string({description: 'with one --message-id: publish this file as the body instead (edit without an editor)', aliases: ['payload-file']}),
    'set-header': Flags.string({description: 'with one --message-id: set this header of the edited copy, as name=value; repeatable', multiple: true}),
    'new-message-id': Flags.boolean({description: 'publish the edited copy under a new message id (by default it keeps the original one, so the consumer\'s inbox absorbs a second copy)'}),
  }

  async run(): Promise<ReplayReport | EditReplayReport> {
    const f = this.flags
    const queue = this.args.queue
    if (queue.trim() === '') throw new UsageError('the queue name is empty', 'name the dead-letter queue, e.g. order_queue.dlq')
    const override: TargetOverride | undefined =
      f['to-queue'] !== undefined ? {queue: f['to-queue']} : f['to-exchange'] !== undefined ? {exchange: f['to-exchange'], routingKey: f['to-routing-key']} : undefined
    if (f.edit || f['body-file'] !== undefined || f['set-header'] !== undefined) return this.replayEdit(queue, override)
    const options = {
      queue, override, dryRun: f['dry-run'] === true, filters: deadLetterFilters(f), idleMs: parseDuration(f.idle, '--idle'),
      maxReplays: f['max-replays'], limit: f.limit, rate: f.rate, prefetch: f.prefetch,
      errorHeaders: f['error-header'] ?? this.settings.dlq.errorHeaders,
    }
    await this.guardDeliveries(queue, f['allow-deliveries'])
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

  /** Edit-and-retry of one dead letter: held while edited, published once with confirms, acked only after. */
  private async replayEdit(queue: string, override: TargetOverride | undefined): Promise<EditReplayReport> {
    const f = this.flags
    const ids = f['message-id'] ?? []
    const others = (['group', 'routing-key', 'header', 'reason', 'older-than', 'limit', 'rate'] as const).filter((k) => f[k] !== undefined)
    if (ids.length !== 1 || others.length > 0 || f['dry-run'])
      throw new UsageError(`--edit, --body-file and --set-header work on one message${others.length > 0 ? `, not with --${others[0]}` : f['dry-run'] ? ', not as a dry run' : ''}`, 'pass exactly one --message-id and no other filter')
    const editor = f['body-file'] === undefined && f.edit ? chosenEditor(process.env, '--body-file FILE') : undefined
    const fileBody = f['body-file'] === undefined ? undefined : await readFile(f['body-file']).catch((error: Error) => {
      throw new UsageError(`cannot read --body-file ${f['body-file']}: ${oneLine(error.message)}`, 'check the path')
    })
    const amqp = await this.services.amqp()
    const publisher = new ConfirmPublisher(amqp)
    const journal = (step: string, report: EditReplayReport) => this.audit({...report, step, note: 'edited copy published and confirmed; the original is acked next'})
    try {
      return await this.change({
        needs: 'dlq replay, purge, restore',
        yes: f.yes,
        lock: {name: `dlq-replay:${queue}`, wait: f['wait-lock'], when: 'first'},
        work: (ctx) => replayEdited({queues: new AmqpDeadLetterQueues(amqp), publisher, journal}, {
          queue, messageId: ids[0], override, newMessageId: f['new-message-id'], errorHeaders: f['error-header'] ?? this.settings.dlq.errorHeaders,
          idleMs: parseDuration(f.idle, '--idle'), prefetch: f.prefetch,
          async edit(letter) {
            const type = letter.properties.contentType
            const raw = fileBody ?? (editor ? Buffer.from(await editText(bodyForEditor(letter.body, type), `dlq-${ids[0].replaceAll(/[^\w.-]/g, '_')}.txt`, editor)) : letter.body)
            const body = editedBody(letter.body, type, raw, f['body-file'] ? `--body-file ${f['body-file']}` : 'the edited body')
            const headers = withHeaders(letter.properties.headers, f['set-header'] ?? [])
            if (body.equals(editedBody(letter.body, type, letter.body, 'the body')) && JSON.stringify(jsonSafe(headers)) === JSON.stringify(jsonSafe(letter.properties.headers ?? {}))) return null
            ctx.show(() => renderDiff(bodyForEditor(letter.body, type), bodyForEditor(body, type)))
            return {body, headers}
          },
          confirm: (plan) => ctx.confirm(editReplayQuestion(queue, plan, override, ctx.target)),
        }, ctx.signal),
        outcome: (r) => (r.step === 'acked' || r.step === 'unchanged' ? 'ok' : r.step === 'cancelled' ? 'cancelled' : 'partial'),
        render: renderEditReplay,
        audit: (r) => ({...r}),
        failure: (r) => (r.step === 'not-found' ? new UsageError(`no dead letter with message id ${ids[0]} in "${queue}" (read ${r.read} of ${r.depth})`, 'msgops dlq inspect --sample shows message ids; nothing was changed') : undefined),
      })
    } finally {
      await publisher.close()
    }
  }
}
