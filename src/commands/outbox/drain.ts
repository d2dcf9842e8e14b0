import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {ConfirmPublisher} from '../../adapters/publisher.js'
import {TouchedIds, withIds} from '../../core/audit.js'
import {parseDuration} from '../../core/duration.js'
import {UsageError} from '../../core/errors.js'
import {changeOutcome} from '../../core/outcome.js'
import {parsePart, partName} from '../../core/part.js'
import {DEFAULT_BATCH_SIZE, DEFAULT_PIPELINE, drainOutbox, type DrainPlan, type DrainResult, openTransactions} from '../../core/outbox/drain.js'
import {withTimeout} from '../../core/time.js'
import {drainQuestion, renderDrain} from '../../render/outbox.js'

const MAX_CONFIRM_TIMEOUT_MS = 600_000

export default class OutboxDrain extends BaseCommand<typeof OutboxDrain> {
  static summary = 'Publish stuck pending outbox rows with publisher confirms, and mark them sent once confirmed.'
  static description = `Per batch, in one transaction: locks pending rows older than --older-than (SELECT … ORDER BY id LIMIT --batch-size FOR UPDATE SKIP LOCKED), publishes each with mandatory, persistent, messageId = the row id and the row's own headers (--mark-drained adds x-msgops-drained-at), waits for the broker's confirms, marks confirmed rows sent, adds an attempt and the error to returned (unroutable) or nacked rows (a dead letter at --max-attempts), and commits.
A row whose exchange does not exist gets an attempt and that error (a dead letter at --max-attempts); the rest of its batch is sent. Without a time column (outbox.columns.createdAt) every pending row is eligible and --older-than is refused.
If the channel or connection dies mid-batch the batch is rolled back: its rows stay pending and are sent again next time with the same message id. Ctrl-C finishes the batch in hand, then stops. Runs under a Redis lock (--no-lock to skip), taken once the confirmation is answered.
Exit 0 all published (or nothing to do: it says why), 1 some rows were returned, nacked, set aside or dead-lettered, 2 a usage, lock, configuration or broker error, 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %> --older-than 1m --yes',
    '<%= config.bin %> <%= command.id %> --limit 10000 --batch-size 200 --rate 500 --yes --json',
    '<%= config.bin %> <%= command.id %> --wait-lock 2m --yes',
    '<%= config.bin %> <%= command.id %> --part 1/2 --ordered --yes',
  ]

  static graceful = 'the batch in hand'

  static flags = {
    'older-than': Flags.string({description: 'only rows created at least this long ago (default 30s; not with a table without a time column)'}),
    limit: Flags.integer({description: 'at most this many rows in this run', min: 1}),
    'batch-size': Flags.integer({description: 'rows per transaction (--batch is the old spelling)', default: DEFAULT_BATCH_SIZE, min: 1, max: 10_000, aliases: ['batch']}),
    'max-attempts': Flags.integer({description: 'a row whose failed attempts reach this becomes a dead letter', default: 10, min: 1}),
    rate: Flags.integer({description: 'at most this many messages per second', min: 1}),
    'in-flight': Flags.integer({description: 'batches waiting for the broker\'s confirms at once, each in its own transaction and MySQL connection (as many again may be committing)', default: DEFAULT_PIPELINE, min: 1, max: 16}),
    timeout: Flags.string({description: 'how long to wait for the broker to confirm one batch (at most 10m)', default: '30s'}),
    'dry-run': Flags.boolean({description: 'count and show a sample of the rows, publish nothing'}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    lock: Flags.boolean({description: 'take the Redis lock outbox-drain (--no-lock to skip)', default: true, allowNo: true}),
    'wait-lock': Flags.string({description: 'wait this long for the lock instead of giving up at once, e.g. 2m'}),
    part: Flags.string({description: 'drain only part I of N (e.g. 2/4), by a hash of the aggregate id: N drains side by side, each aggregate in one part, under the lock outbox-drain:I/N'}),
    parts: Flags.integer({description: 'drain part $JOB_COMPLETION_INDEX+1 of N (a Kubernetes Indexed Job)', min: 1, max: 1024}),
    'mark-drained': Flags.boolean({description: 'add the header x-msgops-drained-at (when msgops published the row) to every message (outbox.markDrained in the configuration); by default a message carries only the row\'s own headers'}),
    ordered: Flags.boolean({description: 'a row waits while an earlier row of its aggregate is pending or a dead letter: each aggregate\'s events leave one at a time, in id order'}),
  }

  async run(): Promise<DrainResult> {
    const f = this.flags
    const options = this.options()
    const part = options.part
    // One connection per open transaction (batches in flight and those committing), one for the counts.
    this.services.mysqlPoolSize = Math.max(this.services.mysqlPoolSize, openTransactions(f['in-flight']) + 1)
    // A drain is many short statements: one that hangs past the confirm timeout means MySQL stopped answering.
    this.services.mysqlStatementTimeoutMs = Math.max(options.confirmTimeoutMs, 10_000)
    const sql = await this.services.mysql()
    const publisher = new ConfirmPublisher(await this.services.amqp())
    // The message ids the broker answered for, for the audit (msgops trace finds the runs that touched an id).
    const touched = new TouchedIds()
    try {
      return await this.change({
        needs: 'outbox drain',
        yes: f.yes, dryRun: f['dry-run'],
        // Taken once the person has said yes: an unanswered prompt must not hold every other drain back.
        lock: f.lock && !f['dry-run'] ? {name: part ? `outbox-drain:${partName(part)}` : 'outbox-drain', wait: f['wait-lock']} : undefined,
        progress: 'drain',
        work: async (ctx) => {
          const confirm = async (plan: DrainPlan) => {
            if (!plan.skipLocked && !f.lock) this.note('warning: no SKIP LOCKED on this server and no lock (--no-lock): concurrent drains wait for each other')
            return ctx.confirm(drainQuestion(plan, ctx.target))
          }
          const result = await drainOutbox({sql, publisher: touched.publisher(publisher, 'drain'), signal: ctx.signal}, {...options, confirm}, ctx.progress)
          for (const note of result.notes) this.note(`note: ${note}`)
          return result
        },
        outcome: (r) => changeOutcome(r, r.returned + r.nacked + r.invalid > 0),
        render: renderDrain,
        audit: ({sample: _sample, ...outcome}) => withIds(outcome, touched.add('drain:invalid', outcome.failures.filter((f) => f.outcome === 'invalid').map((f) => f.id), outcome.invalid)),
        auditError: () => withIds({}, touched),
      })
    } finally {
      // A silently dead connection never answers channel.close: do not let it hold the exit.
      await withTimeout(publisher.close(), 2000).catch(() => {})
    }
  }

  /** The flags as the drain's options (all but the confirmation), checked. */
  private options() {
    const f = this.flags
    const confirmTimeoutMs = parseDuration(f.timeout, '--timeout')
    if (confirmTimeoutMs < 100 || confirmTimeoutMs > MAX_CONFIRM_TIMEOUT_MS) throw new UsageError(`--timeout ${f.timeout} is out of range`, 'use between 100ms and 10m')
    if (f['wait-lock'] !== undefined && !f.lock) throw new UsageError('--wait-lock cannot be combined with --no-lock')
    return {
      config: this.settings, limit: f.limit, part: parsePart(f.part, f.parts), ordered: f.ordered, batchSize: f['batch-size'], pipeline: f['in-flight'],
      maxAttempts: f['max-attempts'], ratePerSecond: f.rate, confirmTimeoutMs, dryRun: f['dry-run'], markDrained: f['mark-drained'] || this.settings.outbox.markDrained,
      olderThanMs: f['older-than'] === undefined ? undefined : parseDuration(f['older-than'], '--older-than'),
    }
  }
}
