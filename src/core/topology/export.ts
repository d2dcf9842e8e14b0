import {ConnectionError} from '../errors.js'
import {type Args, EXCHANGE_ARGUMENTS, isBuiltInExchange, QUEUE_ARGUMENTS, type Topology} from './model.js'
import type {TopologyBroker} from './ports.js'

export type ExportFormat = 'yaml' | 'definitions'

/** Our YAML model as plain data: defaults left out, friendly keys where one exists. */
export interface TopologyDocument {
  exchanges: Record<string, unknown>[]
  queues: Record<string, unknown>[]
  bindings: Record<string, unknown>[]
}

export interface DefinitionsDocument {
  rabbit_version?: string
  exchanges: Record<string, unknown>[]
  queues: Record<string, unknown>[]
  bindings: Record<string, unknown>[]
}

function friendly(args: Args, map: Record<string, {key: string}>): Args {
  const byRaw = new Map(Object.entries(map).map(([name, f]) => [f.key, name]))
  const out: Args = {}
  for (const [key, value] of Object.entries(args)) if (value !== null && value !== undefined) out[byRaw.get(key) ?? key] = value
  return out
}

const byName = <T extends {name: string}>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** What a user declared, without what every vhost has or what belongs to one connection. */
export function declaredOnly(t: Topology): Topology {
  return {
    exchanges: t.exchanges.filter((e) => !isBuiltInExchange(e.name)).sort(byName),
    queues: t.queues.filter((q) => !q.exclusive && !q.name.startsWith('amq.gen-')).sort(byName),
    bindings: t.bindings.filter((b) => b.source !== ''),
  }
}

/** Broker topology → our YAML model, which `plan` reads back as exactly the same objects. */
export function toDocument(topology: Topology): TopologyDocument {
  const t = declaredOnly(topology)
  return {
    exchanges: t.exchanges.map((e) => ({
      name: e.name,
      type: e.type,
      ...(e.durable ? {} : {durable: false}),
      ...(e.autoDelete ? {autoDelete: true} : {}),
      ...(e.internal ? {internal: true} : {}),
      ...(Object.keys(e.arguments).length > 0 ? {arguments: friendly(e.arguments, EXCHANGE_ARGUMENTS)} : {}),
    })),
    queues: t.queues.map((q) => {
      const args = {...q.arguments}
      delete args['x-queue-type']
      return {
        name: q.name,
        ...(q.type === 'classic' ? {} : {type: q.type}),
        ...(q.durable ? {} : {durable: false}),
        ...(q.autoDelete ? {autoDelete: true} : {}),
        ...(Object.keys(args).length > 0 ? {arguments: friendly(args, QUEUE_ARGUMENTS)} : {}),
      }
    }),
    bindings: t.bindings.map((b) => ({
      source: b.source,
      destination: b.destination,
      ...(b.destinationType === 'queue' ? {} : {destinationType: b.destinationType}),
      ...(b.routingKey === '' ? {} : {routingKey: b.routingKey}),
      ...(Object.keys(b.arguments).length > 0 ? {arguments: b.arguments} : {}),
    })),
  }
}

/** Broker topology → the definitions JSON `rabbitmqctl import_definitions` and the management UI accept. */
export function toDefinitions(topology: Topology, vhost: string): DefinitionsDocument {
  const t = declaredOnly(topology)
  return {
    exchanges: t.exchanges.map((e) => ({name: e.name, vhost, type: e.type, durable: e.durable, auto_delete: e.autoDelete, internal: e.internal, arguments: e.arguments})),
    queues: t.queues.map((q) => ({
      name: q.name,
      vhost,
      durable: q.durable,
      auto_delete: q.autoDelete,
      arguments: q.type === 'classic' ? {...q.arguments} : {...q.arguments, 'x-queue-type': q.type},
    })),
    bindings: t.bindings.map((b) => ({source: b.source, vhost, destination: b.destination, destination_type: b.destinationType, routing_key: b.routingKey, arguments: b.arguments})),
  }
}

/** `msgops topology export`: listing needs the management API; passive declares cannot enumerate. */
export async function exportTopology(broker: TopologyBroker, format: ExportFormat): Promise<TopologyDocument | DefinitionsDocument> {
  const all = await broker.readAll()
  if (!all)
    throw new ConnectionError('RabbitMQ management API', 'export needs the RabbitMQ management API to list what the vhost holds, and it could not be reached', 'enable it with `rabbitmq-plugins enable rabbitmq_management` and check --management-url')
  return format === 'yaml' ? toDocument(all) : toDefinitions(all, broker.vhost)
}
