import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {ConfirmPublisher} from '../../adapters/publisher.js'
import {parseDuration} from '../../core/duration.js'
import {EXIT, UsageError} from '../../core/errors.js'
import type {HeldLock} from '../../core/lock.js'
import {DEFAULT_PIPELINE, drainOutbox, type DrainResult} from '../../core/outbox/drain.js'
import {renderDrain} from '../../render/outbox.js'
import {type ProgressBar, progressBar} from '../../render/progress.js'

const MAX_CONFIRM_TIMEOUT_MS = 600_000

export default class OutboxDrain extends BaseCommand<typeof OutboxDrain> {
  static summary = 'Publish stuck pending outbox rows with publisher confirms, and mark them sent once confirmed.'
  static description = `Per batch, in one transaction: locks pending rows older than --older-than (SELECT … ORDER BY id LIMIT --batch FOR UPDATE SKIP LOCKED), publishes each with mandatory, persistent and messageId = the row id, waits for the broker's confirms, marks confirmed rows sent, adds an attempt and the error to returned (unroutable) or nacked rows (a dead letter at --max-attempts), and commits.
A row whose exchange does not exist gets an attempt and that error (a dead letter at --max-attempts); the rest of its batch is sent. Without a time column (outbox.columns.createdAt) every pending row is eligible and --older-than is refused.
If the channel or connection dies mid-batch the batch is rolled back: its rows stay pending and are sent again next time with the same message id. Ctrl-C finishes the batch in hand, then stops. Runs under a Redis lock (--no-lock to skip), taken once the confirmation is answered.
Exit 0 all published (or nothing to do: it says why), 1 some rows were returned, nacked, set aside or dead-lettered, 2 a usage, lock, configuration or broker error, 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %> --older-than 1m --yes',
    '<%= config.bin %> <%= command.id %> --limit 10000 --batch 200 --rate 500 --yes --json',
    '<%= config.bin %> <%= command.id %> --wait-lock 2m --yes',
  ]

  static graceful = 'the batch in hand'

  static flags = {
    'older-than': Flags.string({description: 'only rows created at least this long ago (default 30s; not with a table without a time column)'}),
    limit: Flags.integer({description: 'at most this many rows in this run', min: 1}),
    batch: Flags.integer({description: 'rows per transaction', default: 500, min: 1, max: 10_000}),
    'max-attempts': Flags.integer({description: 'a row whose failed attempts reach this becomes a dead letter', default: 10, min: 1}),
    rate: Flags.integer({description: 'at most this many messages per second', min: 1}),
    'in-flight': Flags.integer({description: 'batches published at once, each in its own transaction and MySQL connection', default: DEFAULT_PIPELINE, min: 1, max: 16}),
    timeout: Flags.string({description: 'how long to wait for the broker to confirm one batch (at most 10m)', default: '30s'}),
    'dry-run': Flags.boolean({description: 'count and show a sample of the rows, publish nothing'}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    lock: Flags.boolean({description: 'take the Redis lock outbox-drain (--no-lock to skip)', default: true, allowNo: true}),
    'wait-lock': Flags.string({description: 'wait this long for the lock instead of giving up at once, e.g. 2m'}),
  }

  async run(): Promise<DrainResult> {
    const f = this.flags
    const olderThanMs = f['older-than'] === undefined ? undefined : parseDuration(f['older-than'], '--older-than')
    const confirmTimeoutMs = parseDuration(f.timeout, '--timeout')
    if (confirmTimeoutMs < 100 || confirmTimeoutMs > MAX_CONFIRM_TIMEOUT_MS) throw new UsageError(`--timeout ${f.timeout} is out of range`, 'use between 100ms and 10m')
    if (f['wait-lock'] !== undefined && !f.lock) throw new UsageError('--wait-lock cannot be combined with --no-lock')

    // One connection per batch in flight, one for the counts.
    this.services.mysqlPoolSize = Math.max(this.services.mysqlPoolSize, f['in-flight'] + 1)
    // A drain is many short statements: one that hangs past the confirm timeout means MySQL stopped answering.
    this.services.mysqlStatementTimeoutMs = Math.max(confirmTimeoutMs, 10_000)
    const sql = await this.services.mysql()
    // The lock is taken once the person has said yes: an unanswered prompt must not hold every other drain back.
    let held: HeldLock | undefined
    const lockLost = new AbortController()
    const signal = AbortSignal.any([this.signal, lockLost.signal])
    const publisher = new ConfirmPublisher(await this.services.amqp())
    // Made at the first progress, after the answer: its rate must not count the time spent at the prompt.
    let shown: ProgressBar | undefined
    const bar = {
      update: (progress: Parameters<ProgressBar['update']>[0]) => (shown ??= progressBar('drain', !this.jsonEnabled())).update(progress),
      stop: () => shown?.stop(),
    }
    let result: DrainResult
    try {
      result = await drainOutbox(
        {sql, publisher, signal},
        {
          config: this.settings,
          olderThanMs,
          limit: f.limit,
          batchSize: f.batch,
          pipeline: f['in-flight'],
          maxAttempts: f['max-attempts'],
          ratePerSecond: f.rate,
          confirmTimeoutMs,
          dryRun: f['dry-run'],
          confirm: async (plan) => {
            if (!plan.skipLocked && !f.lock) this.note('warning: no SKIP LOCKED on this server and no lock (--no-lock): concurrent drains wait for each other')
            // "about": counted before the answer and the lock; the drain counts again once it holds the lock.
            const yes = await this.confirm(`Publish about ${plan.eligible.toLocaleString('en-US')} pending outbox row${plan.eligible === 1 ? '' : 's'} to RabbitMQ?`, f.yes)
            if (yes && f.lock) {
              const lock = await this.lock('outbox-drain', f['wait-lock'])
              held = lock
              if (lock.lost.aborted) lockLost.abort(lock.lost.reason)
              else lock.lost.addEventListener('abort', () => lockLost.abort(lock.lost.reason), {once: true})
            }
            return yes
          },
        },
        bar.update,
      )
    } catch (error) {
      bar.stop()
      if (!f['dry-run']) await this.audit({error: (error as Error).message}, EXIT.error).catch(() => {})
      throw error
    } finally {
      // A silently dead connection never answers channel.close: do not let it hold the exit.
      await Promise.race([publisher.close(), new Promise((resolve) => setTimeout(resolve, 2000).unref())])
    }
    bar.stop()
    for (const note of result.notes) this.note(`note: ${note}`)
    this.print(renderDrain(result))
    if (held?.lost.aborted) throw held.lost.reason
    const failed = result.returned + result.nacked + result.invalid > 0
    this.found(failed)
    if (!result.dryRun && !result.cancelled) {
      const {sample: _sample, ...outcome} = result
      await this.audit(outcome, result.interrupted ? EXIT.interrupted : failed ? EXIT.found : EXIT.ok)
    }
    return result
  }
}
