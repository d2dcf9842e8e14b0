import type {SqlExecutor} from '../ports.js'

/** What the snapshot reads through; src/adapters/snapshot.ts implements it with the real drivers. */

/** MySQL, connected on first use and again after a lost connection (a rejection now does not stick). */
export interface SnapshotSql {
  get(): Promise<SqlExecutor>
}

/** One queue as the management API lists it. */
export interface ListedQueue {
  name: string
  exclusive: boolean
  arguments: Record<string, unknown>
  ready: number
  unacked: number
  consumers: number
  rates: {publish: number; deliver: number; ack: number}
  totals: {publish: number; deliver: number; ack: number}
}

export interface QueueBinding {
  /** The exchange. */
  source: string
  /** The queue. */
  queue: string
}

export interface SnapshotBroker {
  readonly vhost: string
  /**
   * Every queue of the vhost with its figures (management API); undefined when the API cannot be reached,
   * so that passive declares stand in. Refused credentials and other answers are errors.
   */
  listQueues(): Promise<ListedQueue[] | undefined>
  /** The vhost's bindings to queues (management API). */
  listBindings(): Promise<QueueBinding[]>
  /** Resource alarms per node (management API). */
  alarms(): Promise<{node: string; memory: boolean; disk: boolean}[]>
  /** Connections of the vhost the broker is blocking now (management API). */
  blockedConnections(): Promise<number>
  /** A passive declare over AMQP: null when the queue does not exist. */
  declarePassive(name: string): Promise<{ready: number; consumers: number} | null>
}

/** The Redis keys of held locks. */
export interface SnapshotLocks {
  /**
   * The keys of a set (the lock registry, at most `limit`), each with its value and time to live (ms; null for none);
   * a member whose key is gone (its holder was killed and the lock expired) comes back with value null.
   */
  members(set: string, limit: number): Promise<{key: string; value: string | null; ttlMs: number | null}[]>
}

export interface SnapshotPorts {
  sql: SnapshotSql
  broker: SnapshotBroker
  locks: SnapshotLocks
  /** The text of a file (reconcile --metrics-file); null when it is not there. */
  readFile(path: string): Promise<string | null>
}
