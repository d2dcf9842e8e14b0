import type {BindingSpec, ExchangeSpec, QueueSpec, Topology} from './model.js'

/** The broker side of topology, for one vhost. src/adapters/topology.ts implements it. */
export interface TopologyBroker {
  readonly vhost: string
  /** Everything the vhost holds (management API); undefined when the API cannot be reached. */
  readAll(): Promise<Topology | undefined>
  /** Passive declares: only whether a name exists. */
  exchangeExists(name: string): Promise<boolean>
  queueExists(name: string): Promise<boolean>
  /** Declares; a refusal from the broker rejects with BrokerRefusal. */
  declareExchange(exchange: ExchangeSpec): Promise<void>
  declareQueue(queue: QueueSpec): Promise<void>
  bind(binding: BindingSpec): Promise<void>
  /** Exact counts from a passive declare (the management API's figures lag). */
  queueDepth(name: string): Promise<{messages: number; consumers: number}>
  /** Deletes the queue only if it holds no message (the broker checks it atomically); false when it does. */
  deleteEmptyQueue(name: string): Promise<boolean>
}

/** The broker closed the channel on a declare: 406 PRECONDITION_FAILED, 404 NOT_FOUND, 403 ACCESS_REFUSED… */
export class BrokerRefusal extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
  ) {
    super(text)
    this.name = 'BrokerRefusal'
  }
}
