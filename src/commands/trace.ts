import {createReadStream} from 'node:fs'

import {Args, Flags} from '@oclif/core'

import {RedisCache} from '../adapters/cache.js'
import {AmqpDeadLetterQueues} from '../adapters/dlq.js'
import {BaseCommand} from '../base-command.js'
import {parseDuration} from '../core/duration.js'
import {UsageError, oneLine, withResult} from '../core/errors.js'
import {vhostOfAmqpUrl} from '../core/amqp-url.js'
import type {GatherPorts} from '../core/trace/gather.js'
import {readIds} from '../core/trace/ids.js'
import {HEALTHY, type Trace} from '../core/trace/model.js'
import {DEFAULT_BATCH, traceIds, type TraceOptions, type TracePorts, TraceTally} from '../core/trace/run.js'
import {renderCounts, renderSummaryLine, renderTrace} from '../render/trace.js'

export type TraceResult = Trace | {traces: Trace[]; total: number; counts: TraceTally['counts']}

/** Unhealthy ids shown whole after the summary lines of a run over many ids; the rest: trace them one by one. */
const DETAILS = 20

export default class TraceCommand extends BaseCommand<typeof TraceCommand> {
  static multiProfile = true

  static summary = 'Follow one order or message end to end: order, outbox, audit, inbox per consumer, cache, broker; a timeline, a verdict and the repairing command.'
  static description = `Takes order ids or message (outbox) ids and finds which each one is (--order / --message to say it); --ids-file FILE (- for stdin) traces many, one summary line per id and the details of those that are not healthy. Every lookup is an index lookup; many ids are looked up in batches of IN (...) lists.
The broker is read without taking anything: the destination queues' depth and consumers from the management API (a destination queue is never read: that would hide its messages from its consumers); a dead-letter queue (--dlq, else the one the destination queue dead-letters to) only when the database says a message was sent and not consumed, or with --scan-dlq, read with the hold-and-return of dlq inspect, at most --limit messages, never one with consumers. Trace repairs nothing: it prints the command that does.
Exit 0 when every id is consistent (or in flight within --grace), 1 when any is not, 2 when an id exists nowhere (one line naming it) or on errors.`

  static examples = [
    '<%= config.bin %> <%= command.id %> 81234',
    '<%= config.bin %> <%= command.id %> --message 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c --json',
    '<%= config.bin %> <%= command.id %> 81234 --scan-dlq --dlq order_queue.dlq',
    'cut -f1 incident.tsv | <%= config.bin %> <%= command.id %> --ids-file - --json',
  ]

  static strict = false
  // ignoreStdin: oclif would otherwise take piped stdin as the id, and --ids-file - would find it empty.
  static args = {id: Args.string({description: 'an order id or a message id (more may follow)', ignoreStdin: true})}

  static flags = {
    order: Flags.boolean({description: 'the ids are order ids', exclusive: ['message']}),
    message: Flags.boolean({description: 'the ids are message (outbox) ids', exclusive: ['order']}),
    'ids-file': Flags.string({description: 'read ids from this file, one per line (- for stdin)'}),
    dlq: Flags.string({description: 'a dead-letter queue to look in (repeatable); default: where the destination queues dead-letter to', multiple: true}),
    'scan-dlq': Flags.boolean({description: 'read the dead-letter queues for every sent message, even one the database says was consumed'}),
    limit: Flags.integer({description: 'read at most this many messages of each dead-letter queue (--max is the old spelling)', default: 10_000, min: 1, aliases: ['max']}),
    idle: Flags.string({description: 'stop reading a dead-letter queue when no message arrives for this long', default: '2s'}),
    grace: Flags.string({description: 'a message younger than this is in flight, not stuck or lost', default: '5m'}),
    'batch-size': Flags.integer({description: 'ids per batch of lookups', default: DEFAULT_BATCH, min: 1, max: 10_000}),
  }

  async run(): Promise<TraceResult> {
    const f = this.flags
    const {argv} = await this.parse(TraceCommand)
    const args = argv as string[]
    if (args.some((id) => id.trim() === '')) throw new UsageError('an id is empty', 'pass an order id or a message id')
    if (args.length === 0 && f['ids-file'] === undefined) throw new UsageError('no id given', 'pass an order id or a message id, or --ids-file FILE')
    const options: TraceOptions = {
      kind: f.order ? 'order' : f.message ? 'message' : 'auto', graceMs: parseDuration(f.grace, '--grace'), batchSize: f['batch-size'],
      broker: {vhost: vhostOfAmqpUrl(this.settings.amqp.url), dlqs: f.dlq, scanAll: f['scan-dlq'], limit: f.limit, idleMs: parseDuration(f.idle, '--idle'), errorHeaders: this.settings.dlq.errorHeaders},
    }
    const batches = traceIds(await this.ports(), this.settings, options, this.ids(args.map((id) => id.trim()), f['ids-file']))
    const many = f['ids-file'] !== undefined || args.length > 1
    const tally = new TraceTally()
    const traces: Trace[] = []
    const details: Trace[] = []
    const started = Date.now()
    for await (const batch of batches) {
      for (const t of batch) {
        tally.add(t)
        if (this.jsonEnabled() || !many) traces.push(t)
        else if (!HEALTHY.has(t.verdict.state) && t.verdict.state !== 'not_found' && details.length < DETAILS) details.push(t)
      }
      if (many) this.print(() => batch.map(renderSummaryLine).join('\n'))
    }
    if (many) this.print(() => [...details.map((t) => `\n${renderTrace(t)}`), ...(tally.unhealthy > details.length ? [`\n(${tally.unhealthy - details.length} more not healthy: trace them one by one)`] : []), renderCounts(tally, Date.now() - started)].join('\n'))
    else this.print(() => renderTrace(traces[0]))
    const result: TraceResult = many ? {traces, total: tally.total, counts: tally.counts} : traces[0]
    const missing = tally.notFoundError()
    if (missing) throw withResult(missing, result)
    this.found(tally.unhealthy > 0)
    return result
  }

  /** MySQL first (it is required); Redis and the management API when they answer, else what they tell is unknown. */
  private async ports(): Promise<TracePorts> {
    const [sql, cache] = await Promise.all([
      // A read replica when one is configured: trace repairs nothing.
      this.services.reader(),
      this.services.redis().then(
        (redis): GatherPorts['cache'] => new RedisCache(redis, this.settings.cache.format, this.settings.cache.field),
        (error: Error): GatherPorts['cache'] => ({unavailable: `Redis: ${oneLine(error.message)}`}),
      ),
    ])
    return {sql, cache, broker: {management: this.services.management(), deadLetters: async () => new AmqpDeadLetterQueues(await this.services.amqp())}}
  }

  /** The ids of the arguments, then those of the ids file streamed line by line. */
  private async *ids(args: string[], file: string | undefined): AsyncGenerator<string> {
    yield* args
    if (file === undefined) return
    const source = file === '-' ? 'stdin' : `ids file ${file}`
    const stream = file === '-' ? process.stdin : createReadStream(file)
    try {
      yield* readIds(stream, source)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') throw new UsageError(`ids file ${file} does not exist`, 'check the path, or use - for stdin')
      if (code === 'EISDIR') throw new UsageError(`ids file ${file} is a directory`, 'name a file with one id per line')
      if (code === 'EACCES') throw new UsageError(`ids file ${file} cannot be read (permission denied)`, 'check its permissions')
      throw error
    }
  }
}
