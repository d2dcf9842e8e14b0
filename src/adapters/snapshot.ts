import {readFile} from 'node:fs/promises'

import type {Channel} from 'amqplib'

import type {Config} from '../config/schema.js'
import {ConnectionError, OperationError} from '../core/errors.js'
import type {SqlExecutor} from '../core/ports.js'
import type {ListedQueue, QueueBinding, SnapshotBroker, SnapshotLocks, SnapshotPorts, SnapshotSql} from '../core/snapshot/ports.js'
import {vhostOfAmqpUrl} from '../core/amqp-url.js'
import type {AmqpAdapter} from './amqp.js'
import {ManagementClient} from './management.js'
import {MysqlAdapter} from './mysql.js'
import {RedisAdapter} from './redis.js'

/**
 * A connection opened on first use and opened again when the last attempt failed or the connection died: a live
 * view outlives a restart of the service it watches.
 */
class Reconnecting<T extends {close(): Promise<void>}> {
  private current?: Promise<T>

  constructor(
    private readonly open: () => Promise<T>,
    private readonly dead: (conn: T) => boolean,
  ) {}

  async get(): Promise<T> {
    const now = this.current
    if (now) {
      const conn = await now.catch(() => undefined)
      if (conn && !this.dead(conn)) return conn
      if (this.current === now) this.current = undefined
      if (conn) void conn.close().catch(() => {})
    }
    const opening = (this.current ??= this.open())
    opening.catch(() => {
      if (this.current === opening) this.current = undefined
    })
    return opening
  }

  async close(): Promise<void> {
    const conn = await this.current?.catch(() => undefined)
    this.current = undefined
    await conn?.close()
  }
}

interface MgmtQueue {
  name: string
  exclusive?: boolean
  arguments?: Record<string, unknown> | null
  messages_ready?: number
  messages_unacknowledged?: number
  consumers?: number
  message_stats?: {
    publish?: number
    publish_details?: {rate?: number}
    deliver_get?: number
    deliver_get_details?: {rate?: number}
    ack?: number
    ack_details?: {rate?: number}
  }
}

const QUEUE_COLUMNS = [
  'name', 'exclusive', 'arguments', 'messages_ready', 'messages_unacknowledged', 'consumers',
  'message_stats.publish', 'message_stats.publish_details', 'message_stats.deliver_get', 'message_stats.deliver_get_details', 'message_stats.ack', 'message_stats.ack_details',
].join(',')

/** The broker's figures: the management API where it answers, passive declares over AMQP where it does not. */
class BrokerSource implements SnapshotBroker {
  readonly vhost: string
  private readonly management: ManagementClient
  private channel?: {of: AmqpAdapter; channel: Promise<Channel>}

  constructor(
    config: Config,
    timeoutMs: number,
    private readonly amqp: Reconnecting<AmqpAdapter>,
  ) {
    this.vhost = vhostOfAmqpUrl(config.amqp.url)
    this.management = new ManagementClient(config.management.url, timeoutMs)
  }

  private async list<T>(path: string): Promise<T[]> {
    const {status, data} = await this.management.request<T[]>('GET', path)
    if (status === 404) throw new OperationError(`the virtual host "${this.vhost}" does not exist on the broker`, 'create it, or fix the vhost in the AMQP URL')
    if (status >= 400) throw new OperationError(`the RabbitMQ management API answered GET ${path.split('?')[0]} with HTTP ${status}`)
    if (!Array.isArray(data)) throw new OperationError(`the RabbitMQ management API answered GET ${path.split('?')[0]} with something that is not a list`)
    return data
  }

  async listQueues(): Promise<ListedQueue[] | undefined> {
    let queues: MgmtQueue[]
    try {
      queues = await this.list<MgmtQueue>(`/queues/${encodeURIComponent(this.vhost)}?columns=${QUEUE_COLUMNS}`)
    } catch (error) {
      // Unreachable: passive declares stand in. Reachable but refusing us is a configuration error to show.
      if (error instanceof ConnectionError && !/refused the credentials/.test(error.message)) return undefined
      throw error
    }
    const s = (q: MgmtQueue) => q.message_stats ?? {}
    return queues.map((q) => ({
      name: q.name,
      exclusive: q.exclusive === true,
      arguments: {...q.arguments},
      ready: q.messages_ready ?? 0,
      unacked: q.messages_unacknowledged ?? 0,
      consumers: q.consumers ?? 0,
      rates: {publish: s(q).publish_details?.rate ?? 0, deliver: s(q).deliver_get_details?.rate ?? 0, ack: s(q).ack_details?.rate ?? 0},
      totals: {publish: s(q).publish ?? 0, deliver: s(q).deliver_get ?? 0, ack: s(q).ack ?? 0},
    }))
  }

  async listBindings(): Promise<QueueBinding[]> {
    const bindings = await this.list<{source: string; destination: string; destination_type: string}>(`/bindings/${encodeURIComponent(this.vhost)}?columns=source,destination,destination_type`)
    return bindings.filter((b) => b.destination_type === 'queue').map((b) => ({source: b.source, queue: b.destination}))
  }

  async alarms(): Promise<{node: string; memory: boolean; disk: boolean}[]> {
    const nodes = await this.list<{name: string; mem_alarm?: boolean; disk_free_alarm?: boolean}>('/nodes?columns=name,mem_alarm,disk_free_alarm')
    return nodes.map((node) => ({node: node.name, memory: node.mem_alarm === true, disk: node.disk_free_alarm === true}))
  }

  async blockedConnections(): Promise<number> {
    const connections = await this.list<{state?: string}>(`/vhosts/${encodeURIComponent(this.vhost)}/connections?columns=state`)
    return connections.filter((c) => c.state === 'blocked').length
  }

  async declarePassive(name: string): Promise<{ready: number; consumers: number} | null> {
    const amqp = await this.amqp.get()
    if (this.channel?.of !== amqp) this.channel = {of: amqp, channel: amqp.channel()}
    try {
      const ok = await (await this.channel.channel).checkQueue(name)
      return {ready: ok.messageCount, consumers: ok.consumerCount}
    } catch (error) {
      // A 404 closes the channel: the next declare opens another.
      this.channel = undefined
      if ((error as {code?: unknown}).code === 404 && !amqp.closedWith) return null
      throw error
    }
  }
}

/** Held locks: the registry's members (SMEMBERS), then their values and expiries in one pipeline; gone ones leave it. */
class LockSource implements SnapshotLocks {
  constructor(private readonly redis: Reconnecting<RedisAdapter>) {}

  async members(set: string, limit: number): Promise<{key: string; value: string | null; ttlMs: number | null}[]> {
    const redis = await this.redis.get()
    return redis.run(async () => {
      const keys = (await redis.client.smembers(set)).slice(0, limit)
      if (keys.length === 0) return []
      const pipeline = redis.client.pipeline()
      for (const key of keys) pipeline.get(key).pttl(key)
      const answers = (await pipeline.exec()) ?? []
      const found = keys.map((key, i) => {
        const value = answers[2 * i]?.[1]
        const ttl = Number(answers[2 * i + 1]?.[1])
        return {key, value: typeof value === 'string' ? value : null, ttlMs: ttl >= 0 ? ttl : null}
      })
      // A holder killed -9 never removed its member: its lock expired, so the member goes (the only write of a snapshot).
      const gone = found.filter((f) => f.value === null).map((f) => f.key)
      if (gone.length > 0) await redis.client.srem(set, ...gone)
      return found
    })
  }
}

/**
 * The ports of the snapshot over the real services, each connection its own and reopened when it died, with short
 * statement timeouts: a frozen MySQL must end its query, not hold the view's only read of it for minutes.
 */
export class SnapshotSources implements SnapshotPorts {
  readonly sql: SnapshotSql
  readonly broker: BrokerSource
  readonly locks: LockSource
  private readonly mysql: Reconnecting<MysqlAdapter>
  private readonly redis: Reconnecting<RedisAdapter>
  private readonly amqp: Reconnecting<AmqpAdapter>

  constructor(config: Config, connectTimeoutMs: number, statementTimeoutMs: number) {
    this.mysql = new Reconnecting(() => MysqlAdapter.connect(config.mysql.url, connectTimeoutMs, 4, statementTimeoutMs), () => false)
    this.redis = new Reconnecting(() => RedisAdapter.connect(config.redis.url, connectTimeoutMs), (r) => r.client.status === 'end' || r.client.status === 'close')
    // amqplib is loaded only when passive declares are needed (no management API).
    this.amqp = new Reconnecting(async () => (await import('./amqp.js')).AmqpAdapter.connect(config.amqp.url, connectTimeoutMs), (a) => a.closedWith !== undefined)
    this.sql = {get: (): Promise<SqlExecutor> => this.mysql.get()}
    this.broker = new BrokerSource(config, connectTimeoutMs, this.amqp)
    this.locks = new LockSource(this.redis)
  }

  async readFile(path: string): Promise<string | null> {
    try {
      return await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw new OperationError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.mysql.close(), this.redis.close(), this.amqp.close()].map((p) => p.catch(() => {})))
  }
}
