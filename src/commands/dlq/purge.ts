import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {AmqpDeadLetterQueues, JsonlArchive} from '../../adapters/dlq.js'
import {purgeDeadLetters, type PurgeReport} from '../../core/dlq/purge.js'
import {parseDuration} from '../../core/duration.js'
import {renderPurge} from '../../render/dlq.js'
import {progressBar} from '../../render/progress.js'
import {filterFlags, filtersFromFlags} from './replay.js'

export default class DlqPurge extends BaseCommand<typeof DlqPurge> {
  static summary = 'Remove dead letters, optionally keeping each one in a JSON-lines archive first.'
  static description = `Reads at most the depth seen at the start and acks (removes) every message that matches the filters; the others go back to the queue in their original order when it ends.
With --archive FILE.jsonl, each message is appended to the file as one JSON line (properties, headers, body as UTF-8 text or base64) and the file is flushed to disk (fsync) before the message is acked, so nothing is thrown away that was not kept. The file is appended to, never truncated.
Exit 0 on success, 2 on errors.`

  static examples = [
    '<%= config.bin %> <%= command.id %> order_queue.dlq --archive /var/backups/order-dlq.jsonl',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --reason expired --older-than 7d --yes',
    '<%= config.bin %> <%= command.id %> order_queue.dlq --dry-run --json',
  ]

  static graceful = true

  static args = {queue: Args.string({description: 'the dead-letter queue', required: true})}

  static flags = {
    ...filterFlags,
    archive: Flags.string({description: 'append each message to this JSON-lines file (flushed) before removing it'}),
    limit: Flags.integer({description: 'remove at most this many messages', min: 1}),
    'dry-run': Flags.boolean({description: 'count what would be removed; remove nothing'}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    'wait-lock': Flags.string({description: 'wait this long for another run on the same queue to finish, e.g. 5m'}),
  }

  async run(): Promise<PurgeReport> {
    const {queue} = this.args
    const filters = filtersFromFlags(this.flags)
    const idleMs = parseDuration(this.flags.idle, '--idle')
    const dryRun = this.flags['dry-run']
    const queues = new AmqpDeadLetterQueues(await this.services.amqp())
    let signal = this.signal
    let lost: AbortSignal | undefined
    if (!dryRun) {
      const {messages} = await queues.state(queue)
      const count = this.flags.limit === undefined ? messages : Math.min(messages, this.flags.limit)
      const kept = this.flags.archive ? `, archiving them to ${this.flags.archive}` : ' WITHOUT an archive'
      if (!(await this.confirm(`Remove up to ${count} dead letters from ${queue}${kept}?`, this.flags.yes))) {
        this.note('cancelled: nothing was removed')
        return {queue, depth: messages, read: 0, dryRun, purged: 0, archived: 0, left: 0, interrupted: false}
      }
      const held = await this.lock(`dlq-replay:${queue}`, this.flags['wait-lock'])
      lost = held.lost
      signal = AbortSignal.any([this.signal, held.lost])
    }
    const archive = this.flags.archive && !dryRun ? await JsonlArchive.open(this.flags.archive) : undefined
    const bar = progressBar(dryRun ? 'reading' : 'purging', !this.jsonEnabled())
    let report: PurgeReport
    try {
      report = await purgeDeadLetters(
        {queues, archive},
        {queue, filters, dryRun, idleMs, limit: this.flags.limit, prefetch: this.flags.prefetch, errorHeaders: this.flags['error-header'] ?? this.settings.dlq.errorHeaders},
        bar.update,
        signal,
      )
    } finally {
      bar.stop()
      await archive?.close()
    }
    if (!dryRun) await this.audit({...report})
    this.print(renderPurge(report))
    if (lost?.aborted) throw lost.reason
    return report
  }
}
