import type {Config} from '../../config/schema.js'
import {type InboxMapping, inboxMapping, type OutboxMapping, outboxMapping} from '../mapping.js'
import {inspectTables, type TableCheck} from '../tables.js'
import type {Topology} from '../topology/model.js'
import {BrokerReader} from './broker.js'
import {readInbox} from './inbox.js'
import {readLocks} from './locks.js'
import type {Snapshot} from './model.js'
import {readOutbox} from './outbox.js'
import {Absent, PartReader} from './part.js'
import type {SnapshotPorts} from './ports.js'
import {readLastReconcile} from './reconcile.js'

export interface SnapshotOptions {
  config: Config
  /** Queues to show (of the topology file, top.queues, --queue); none: every queue the management API lists. */
  queues: readonly string[]
  /** The topology file, for telling dead-letter queues by their x-dead-letter-exchange. */
  topology?: Topology
  /** How long each part may take before it shows stale or unreachable. */
  timeoutMs: number
  /** The file `reconcile --metrics-file` writes: a reading reconcile (no --fix) is not audited, it writes only that. */
  reconcileMetricsFile?: string
  /** Pending rows older than this count as stuck (default 5 min, as outbox status). */
  stuckAfterMs?: number
  now?: () => number
}

/** The table mapping, read from information_schema once it is there; asked again while it is not. */
function tableOnce<M>(ports: SnapshotPorts, config: Config, role: 'outbox' | 'inbox', make: (check: TableCheck) => M): () => Promise<M | Absent> {
  let mapped: M | undefined
  return async () => {
    if (mapped) return mapped
    const check = (await inspectTables(await ports.sql.get(), config))[role]
    if (!check.exists) return new Absent(`the ${role} table "${check.table}" does not exist`)
    if (check.missingRequired.length > 0) return new Absent(`the ${role} table "${check.table}" has no column ${check.missingRequired.join(', ')} (map ${role}.columns)`)
    mapped = make(check)
    return mapped
  }
}

/**
 * Snapshots of every source, taken side by side, each part within its own timeout (part.ts): the one source of the
 * figures of `msgops top` and `msgops metrics serve`.
 */
export class Snapshotter {
  /** Snapshots taken so far (metrics serve reports it: a cached scrape does not take one). */
  taken = 0
  private readonly parts
  private readonly now: () => number

  constructor(ports: SnapshotPorts, readonly options: SnapshotOptions) {
    const {config} = options
    this.now = options.now ?? Date.now
    const stuckAfterMs = options.stuckAfterMs ?? 300_000
    const outboxTable = tableOnce<OutboxMapping>(ports, config, 'outbox', (check) => outboxMapping(config, check.columns))
    const inboxTable = tableOnce<InboxMapping>(ports, config, 'inbox', (check) => inboxMapping(config, check.columns))
    const broker = new BrokerReader(ports.broker, options.queues, options.topology, this.now)
    this.parts = {
      outbox: new PartReader(async () => {
        const table = await outboxTable()
        return table instanceof Absent ? table : readOutbox(await ports.sql.get(), config, table, stuckAfterMs)
      }, this.now),
      inbox: new PartReader(async () => {
        const table = await inboxTable()
        return table instanceof Absent ? table : readInbox(await ports.sql.get(), table)
      }, this.now),
      broker: new PartReader(() => broker.read(), this.now),
      reconcile: new PartReader(async () => {
        const file = options.reconcileMetricsFile
        return readLastReconcile(await ports.sql.get(), config.audit.table, file ? () => ports.readFile(file) : undefined)
      }, this.now),
      locks: new PartReader(() => readLocks(ports.locks, config.redis.keyPrefix), this.now),
    }
  }

  async take(): Promise<Snapshot> {
    const started = this.now()
    const ms = this.options.timeoutMs
    const p = this.parts
    const [outbox, broker, inbox, reconcile, locks] = await Promise.all([p.outbox.take(ms), p.broker.take(ms), p.inbox.take(ms), p.reconcile.take(ms), p.locks.take(ms)])
    this.taken++
    return {at: new Date(started).toISOString(), tookMs: this.now() - started, outbox, broker, inbox, reconcile, locks}
  }
}
