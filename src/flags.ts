import {Flags} from '@oclif/core'

import {DEFAULT_ERROR_HEADERS} from './config/defaults.js'
import {type DeadLetterFilters, filtersFromInput} from './core/dlq/decide.js'
import {parseDuration} from './core/duration.js'
import {UsageError} from './core/errors.js'
import {DEFAULT_CHUNK_TIME, type Pace, parseSleepCoef} from './core/prune/decide.js'
import type {PruneOptions} from './core/prune/run.js'

/** The flag sets several commands share, so that one idea has one name and one description everywhere. */

/** The flags of every state-changing command. */
export const changeFlags = {
  'dry-run': Flags.boolean({description: 'show what would be done; change nothing'}),
  yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
  'wait-lock': Flags.string({description: 'wait this long for another run holding the lock to finish, e.g. 5m'}),
}

/** Reading a quorum queue that has a delivery limit (dlq inspect, replay, purge): each read spends a delivery. */
export const deliveriesFlag = {
  'allow-deliveries': Flags.boolean({description: 'read a quorum queue with a delivery limit anyway: each read counts as a delivery of every message held, and past the limit RabbitMQ dead-letters or drops it'}),
}

/** Unacked deliveries of a dead-letter reader (replay, purge, edit): measured by `npm run bench -- replay`. */
export const DEFAULT_PREFETCH = 2000

/** The dead-letter filters of replay and purge. */
export const deadLetterFilterFlags = {
  group: Flags.string({description: 'only messages of this group (a group key or a fingerprint printed by dlq inspect); repeatable', multiple: true}),
  'routing-key': Flags.string({description: 'only messages whose original routing key matches this glob (* any characters, ? one)'}),
  header: Flags.string({description: 'only messages with this header value, as name=value; repeatable, all must match', multiple: true}),
  'message-id': Flags.string({description: 'only the message with this id; repeatable', multiple: true, aliases: ['id']}),
  reason: Flags.string({description: 'only messages whose first death reason is this; repeatable', multiple: true, options: ['rejected', 'expired', 'maxlen', 'delivery_limit', 'none']}),
  'older-than': Flags.string({description: 'only messages dead-lettered at least this long ago, e.g. 30m, 2h'}),
  'error-header': Flags.string({description: `header holding the error text, for --group keys; repeatable; replaces the configured dlq.errorHeaders (by default ${DEFAULT_ERROR_HEADERS.join(', ')})`, multiple: true}),
  idle: Flags.string({description: 'stop reading when no message arrives for this long', default: '2s'}),
  prefetch: Flags.integer({description: 'deliveries in flight from the queue', default: DEFAULT_PREFETCH, min: 1, max: 65_535}),
}

export function deadLetterFilters(flags: {group?: string[]; 'routing-key'?: string; header?: string[]; 'message-id'?: string[]; reason?: string[]; 'older-than'?: string}): DeadLetterFilters {
  return filtersFromInput({
    groups: flags.group,
    routingKey: flags['routing-key'],
    headers: flags.header,
    messageIds: flags['message-id'],
    reasons: flags.reason,
    olderThanMs: flags['older-than'] === undefined ? undefined : parseDuration(flags['older-than'], '--older-than'),
  })
}

/** The flags of the commands that read a snapshot of every source (top, metrics serve). */
export const snapshotFlags = {
  queue: Flags.string({description: 'a queue to show (repeatable; adds to top.queues and the queues of --topology); none: every queue of the vhost', multiple: true}),
  topology: Flags.string({description: 'a topology file (as for topology apply): its queues are shown, its dead-letter exchanges tell the dead-letter queues'}),
  timeout: Flags.string({description: 'how long each source (outbox, broker, inbox, reconcile, locks) may take before it shows as stale or unreachable', default: '2s'}),
  'stuck-after': Flags.string({description: 'pending rows older than this count as stuck', default: '5m'}),
  'reconcile-metrics-file': Flags.string({description: 'the file of reconcile --metrics-file: the last reconcile is the newer of it and the audit table (a reconcile without --fix is not audited)'}),
}

/** The flags outbox prune and inbox prune share (pt-archiver's knobs, under msgops' names). */
export const pruneFlags = {
  'chunk-size': Flags.integer({description: 'rows in the first chunk; then tuned to --chunk-time', default: 1000, min: 1}),
  'max-chunk-size': Flags.integer({description: 'never more rows than this in one chunk', default: 10_000, min: 1}),
  'chunk-time': Flags.string({description: 'each chunk (one short transaction) should take about this long (default 500ms; polite: 5ms)'}),
  pace: Flags.string({description: "auto: polite (5 ms chunks, each followed by a pause twice as long) while others' statements reach 20/s on the server, full speed when it is idle; full; polite", options: ['auto', 'full', 'polite'], default: 'auto'}),
  sleep: Flags.string({description: 'wait this long between chunks, e.g. 100ms', exclusive: ['rate', 'sleep-coef']}),
  'sleep-coef': Flags.string({description: "after each chunk, wait this many times the chunk's own time, e.g. 1 (with --chunk-time 10ms: the polite setting of docs/retention.md)", exclusive: ['rate', 'sleep']}),
  rate: Flags.integer({description: 'delete at most this many rows per second', min: 1, exclusive: ['sleep', 'sleep-coef']}),
  'max-load': Flags.integer({description: "pause while the server's Threads_running (other than this run) is above this", default: 25, min: 1}),
  'max-lag': Flags.string({description: 'pause while a replica lags more than this', default: '1s'}),
  archive: Flags.string({description: 'write each row to this JSON-lines file (.gz: gzip), fsynced before its chunk is deleted'}),
  limit: Flags.integer({description: 'delete at most this many rows in this run', min: 1}),
  until: Flags.string({description: 'time budget: start no chunk after this long, e.g. 20m'}),
  'drop-partitions': Flags.boolean({description: 'drop whole partitions older than --older-than instead of deleting rows (RANGE-partitioned tables)', exclusive: ['archive']}),
  'add-partitions': Flags.string({description: 'with --drop-partitions: make sure every day up to this far ahead has its partition, e.g. 7d', dependsOn: ['drop-partitions']}),
}

/** The chunking and throttling options of a prune, from its flags. */
export function pruneOptions(flags: {'dry-run': boolean; 'chunk-size': number; 'max-chunk-size': number; 'chunk-time'?: string; pace: string; sleep?: string; 'sleep-coef'?: string; rate?: number; 'max-load': number; 'max-lag': string; limit?: number; until?: string}): PruneOptions {
  const positive = (text: string, flag: string) => {
    const ms = parseDuration(text, flag)
    if (ms <= 0) throw new UsageError(`${flag} must be more than zero`, `give a duration such as ${flag === '--until' ? '20m' : '500ms'}`)
    return ms
  }
  const coef = flags['sleep-coef'] === undefined ? undefined : parseSleepCoef(flags['sleep-coef'])
  if (coef && 'error' in coef) throw new UsageError(coef.error, 'e.g. --sleep-coef 1')
  if (flags['chunk-size'] > flags['max-chunk-size']) throw new UsageError(`--chunk-size ${flags['chunk-size']} is above --max-chunk-size ${flags['max-chunk-size']}`, 'lower --chunk-size or raise --max-chunk-size')
  return {
    dryRun: flags['dry-run'], chunkSize: flags['chunk-size'], maxChunkSize: flags['max-chunk-size'], chunkTimeMs: positive(flags['chunk-time'] ?? DEFAULT_CHUNK_TIME, '--chunk-time'),
    chunkTimeGiven: flags['chunk-time'] !== undefined, pace: flags.pace as Pace,
    sleepMs: flags.sleep === undefined ? undefined : parseDuration(flags.sleep, '--sleep'), sleepCoef: coef?.coef, rate: flags.rate, maxLoad: flags['max-load'],
    maxLagS: positive(flags['max-lag'], '--max-lag') / 1000, limit: flags.limit, untilMs: flags.until === undefined ? undefined : positive(flags.until, '--until'),
  }
}
