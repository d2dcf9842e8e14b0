import {formatDuration} from '../duration.js'
import {OperationError} from '../errors.js'
import type {SqlExecutor} from '../ports.js'
import {type Heartbeat, readReplica, threadsRunning} from '../replica.js'
import {sleep} from '../time.js'
import {throwIfAborted} from './scan.js'

/** When reconcile holds back between chunks (pt-table-checksum's --max-load and --max-lag). */
export interface ThrottleLimits {
  /** Threads_running (others than this run's own statement) above which it pauses; 0: never. */
  maxLoad: number
  /** Replica lag in seconds above which it pauses. */
  maxLagS: number
  /** How long it may stay paused on the lag before it gives up (exit 2). */
  maxLagWaitMs: number
}

export interface ServerReading {
  /** Threads_running of each server read or checked on ("primary", "replica host:port"). */
  load: {server: string; threads: number}[]
  /** The replica read from, when one is; lagS null when replication is not running. */
  replica?: {name: string; lagS: number | null}
}

/**
 * Whether the next chunk may start, and why not. The check's own statement is one of the running threads.
 *
 * | a server's Threads_running − 1 > --max-load (> 0) | the replica's lag             | decision                                         |
 * | ------------------------------------------------- | ----------------------------- | ------------------------------------------------ |
 * | yes                                               | any                           | pause (load): "primary: Threads_running 31 > 25" |
 * | no                                                | null (replication not running) | pause (lag): "replica R: replication not running" |
 * | no                                                | > --max-lag                   | pause (lag): "replica R lags 42s > 30s"          |
 * | no                                                | ≤ --max-lag, or no replica    | go (null)                                        |
 */
export function holdReason(reading: ServerReading, limits: Pick<ThrottleLimits, 'maxLoad' | 'maxLagS'>): {kind: 'load' | 'lag'; text: string} | null {
  if (limits.maxLoad > 0)
    for (const {server, threads} of reading.load) if (threads - 1 > limits.maxLoad) return {kind: 'load', text: `${server}: Threads_running ${threads - 1} > ${limits.maxLoad}`}
  const replica = reading.replica
  if (replica?.lagS === null) return {kind: 'lag', text: `replica ${replica.name}: replication not running`}
  if (replica && replica.lagS > limits.maxLagS) return {kind: 'lag', text: `replica ${replica.name} lags ${Math.round(replica.lagS)}s > ${limits.maxLagS}s`}
  return null
}

/** The servers a reconcile watches: the primary, and the replica it reads when it reads one. */
export interface Watched {
  primary: SqlExecutor
  replica?: {sql: SqlExecutor; name: string; heartbeat?: Heartbeat | null}
}

/**
 * Reads the servers before a chunk and waits while holdReason says so, telling why (onPause) once per reason; gives up
 * with an error (exit 2, one line) once the lag has held it back for longer than --max-lag-wait. Returns the lag read
 * last (0 without a replica) and how long it waited.
 */
export class Gate {
  pausedMs = 0
  pauses = 0
  constructor(
    private readonly watched: Watched,
    private readonly limits: ThrottleLimits,
    private readonly onPause: (reason: string | null) => void,
    private readonly signal?: AbortSignal,
    private readonly pollMs = 1000,
  ) {}

  async read(): Promise<ServerReading> {
    const {primary, replica} = this.watched
    const load = [{server: replica ? 'primary' : 'server', threads: await threadsRunning(primary)}]
    if (!replica) return {load}
    const state = await readReplica(replica.sql, primary, replica.name, replica.heartbeat)
    load.push({server: `replica ${replica.name}`, threads: await threadsRunning(replica.sql)})
    return {load, replica: {name: replica.name, lagS: state.lagS}}
  }

  async pass(): Promise<number> {
    let lagSince: number | null = null
    let last: string | null = null
    const started = Date.now()
    for (;;) {
      throwIfAborted(this.signal)
      const reading = await this.read()
      const reason = holdReason(reading, this.limits)
      if (!reason) {
        if (last !== null) {
          this.pausedMs += Date.now() - started
          this.onPause(null)
        }
        return reading.replica?.lagS ?? 0
      }
      if (reason.kind === 'lag') {
        lagSince ??= Date.now()
        if (Date.now() - lagSince >= this.limits.maxLagWaitMs)
          throw new OperationError(`reconcile stopped: ${reason.text} for longer than --max-lag-wait ${formatDuration(this.limits.maxLagWaitMs)}`, 'run it again once the replica has caught up, raise --max-lag, or leave out --replica-url to read from the primary')
      } else lagSince = null
      if (reason.text !== last) {
        if (last === null) this.pauses++
        this.onPause(reason.text)
        last = reason.text
      }
      await sleep(this.pollMs, this.signal)
    }
  }
}
