import type {Channel} from 'amqplib'

import {ConnectionError, OperationError} from '../core/errors.js'
import {type BindingSpec, type ExchangeSpec, type QueueSpec, type QueueType, type Topology} from '../core/topology/model.js'
import {vhostOfAmqpUrl} from '../core/amqp-url.js'
import {BrokerRefusal, type TopologyBroker} from '../core/topology/ports.js'
import {type AmqpAdapter, amqpConnectionError} from './amqp.js'
import type {ManagementClient} from './management.js'
import type {Services} from './services.js'

interface MgmtExchange {
  name: string
  type: string
  durable: boolean
  auto_delete: boolean
  internal: boolean
  arguments?: Record<string, unknown> | null
}
interface MgmtQueue {
  name: string
  type?: string
  durable: boolean
  auto_delete: boolean
  exclusive?: boolean
  arguments?: Record<string, unknown> | null
}
interface MgmtBinding {
  source: string
  destination: string
  destination_type: 'queue' | 'exchange'
  routing_key: string
  arguments?: Record<string, unknown> | null
}

/** `… with message "PRECONDITION_FAILED - inequivalent arg …"` → the broker's reply text. */
function replyText(error: unknown): string {
  const message = (error as Error).message ?? String(error)
  const quoted = /with message "(.*)"/.exec(message)
  return (quoted ? quoted[1] : message).replace(/^[A-Z_]+ - /, '')
}

/**
 * Topology of one vhost on a real broker: reads through the management API (arguments, bindings, listing),
 * declares through AMQP. A channel the broker closed (404 on a passive declare, 406 on a declare) is replaced.
 */
export class BrokerTopology implements TopologyBroker {
  private channelPromise?: Promise<Channel>

  constructor(
    private readonly amqp: AmqpAdapter,
    private readonly management: ManagementClient | undefined,
    readonly vhost: string,
  ) {}

  async readAll(): Promise<Topology | undefined> {
    if (!this.management) return undefined
    const v = encodeURIComponent(this.vhost)
    let answers: [MgmtExchange[], MgmtQueue[], MgmtBinding[]]
    try {
      answers = await Promise.all([
        this.list<MgmtExchange>(`/exchanges/${v}?columns=name,type,durable,auto_delete,internal,arguments`),
        this.list<MgmtQueue>(`/queues/${v}?disable_stats=true&columns=name,type,durable,auto_delete,exclusive,arguments`),
        this.list<MgmtBinding>(`/bindings/${v}`),
      ])
    } catch (error) {
      // Unreachable: fall back to passive declares. Reachable but refusing us is a configuration error.
      if (error instanceof ConnectionError && !/refused the credentials/.test(error.message)) return undefined
      throw error
    }
    const [exchanges, queues, bindings] = answers
    return {
      exchanges: exchanges.map((e) => ({name: e.name, type: e.type, durable: e.durable, autoDelete: e.auto_delete, internal: e.internal, arguments: {...e.arguments}})),
      queues: queues.map((q) => {
        const args = {...q.arguments}
        const type = String(q.type ?? args['x-queue-type'] ?? 'classic') as QueueType
        return {name: q.name, type, durable: q.durable, autoDelete: q.auto_delete, exclusive: q.exclusive === true, arguments: args}
      }),
      bindings: bindings.map((b) => ({source: b.source, destination: b.destination, destinationType: b.destination_type, routingKey: b.routing_key, arguments: {...b.arguments}})),
    }
  }

  private async list<T>(path: string): Promise<T[]> {
    const {status, data} = await this.management!.request<T[]>('GET', path)
    if (status === 404) throw new OperationError(`the virtual host "${this.vhost}" does not exist on the broker`, 'create it, or fix the vhost in the AMQP URL')
    if (status >= 400) throw new OperationError(`the RabbitMQ management API answered GET ${path.split('?')[0]} with HTTP ${status}`)
    if (!Array.isArray(data)) throw new OperationError(`the RabbitMQ management API answered GET ${path.split('?')[0]} with something that is not a list`)
    return data
  }

  exchangeExists(name: string): Promise<boolean> {
    return this.passive(() => this.withChannel((ch) => ch.checkExchange(name)))
  }

  queueExists(name: string): Promise<boolean> {
    return this.passive(() => this.withChannel((ch) => ch.checkQueue(name)))
  }

  async queueDepth(name: string): Promise<{messages: number; consumers: number}> {
    const ok = await this.withChannel((ch) => ch.checkQueue(name))
    return {messages: ok.messageCount, consumers: ok.consumerCount}
  }

  async declareExchange(e: ExchangeSpec): Promise<void> {
    await this.withChannel((ch) => ch.assertExchange(e.name, e.type, {durable: e.durable, autoDelete: e.autoDelete, internal: e.internal, arguments: e.arguments}))
  }

  async declareQueue(q: QueueSpec): Promise<void> {
    const args = q.type === 'classic' ? q.arguments : {...q.arguments, 'x-queue-type': q.type}
    await this.withChannel((ch) => ch.assertQueue(q.name, {durable: q.durable, autoDelete: q.autoDelete, exclusive: false, arguments: args}))
  }

  async bind(b: BindingSpec): Promise<void> {
    await this.withChannel((ch) =>
      b.destinationType === 'queue' ? ch.bindQueue(b.destination, b.source, b.routingKey, b.arguments) : ch.bindExchange(b.destination, b.source, b.routingKey, b.arguments),
    )
  }

  async deleteEmptyQueue(name: string): Promise<boolean> {
    try {
      await this.withChannel((ch) => ch.deleteQueue(name, {ifEmpty: true}))
      return true
    } catch (error) {
      if (error instanceof BrokerRefusal && error.code === 406) return false
      throw error
    }
  }

  private async passive(check: () => Promise<unknown>): Promise<boolean> {
    try {
      await check()
      return true
    } catch (error) {
      if (error instanceof BrokerRefusal && error.code === 404) return false
      throw error
    }
  }

  /** Runs one AMQP method; a channel-level refusal becomes BrokerRefusal, a dead connection a ConnectionError. */
  private async withChannel<T>(work: (channel: Channel) => Promise<T>): Promise<T> {
    if (this.amqp.closedWith) throw amqpConnectionError(this.amqp.url, this.amqp.closedWith)
    this.channelPromise ??= this.amqp.channel()
    const channel = await this.channelPromise
    try {
      return await work(channel)
    } catch (error) {
      this.channelPromise = undefined
      const code = (error as {code?: unknown}).code
      if (typeof code === 'number' && code >= 400 && code < 500 && !this.amqp.closedWith) throw new BrokerRefusal(code, replyText(error))
      // A connection-level exception (e.g. 540 NOT_IMPLEMENTED) says why in the broker's own words.
      const closed = this.amqp.closedWith as Error | undefined
      if (closed && /with message "/.test(closed.message)) throw new OperationError(`RabbitMQ closed the connection: ${replyText(closed)}`)
      throw amqpConnectionError(this.amqp.url, closed ?? error)
    }
  }

  async close(): Promise<void> {
    const channel = await this.channelPromise?.catch(() => undefined)
    this.channelPromise = undefined
    await channel?.close().catch(() => {})
  }
}

/** The topology port for the vhost of the configured AMQP URL (management API from management.url). */
export async function openTopologyBroker(services: Services): Promise<BrokerTopology> {
  const amqp = await services.amqp()
  return new BrokerTopology(amqp, services.management(), vhostOfAmqpUrl(services.config.amqp.url))
}
