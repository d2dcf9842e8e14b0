import {type Args, bindingKey, bindingName, type BindingSpec, canonical, type ExchangeSpec, isBuiltInExchange, type QueueSpec, type Topology} from './model.js'

export type Kind = 'exchange' | 'queue' | 'binding'

export interface ItemRef {
  kind: Kind
  name: string
}

/** One field or argument that differs: its value in the file and on the broker (null: absent). */
export interface Difference {
  field: string
  file: unknown
  broker: unknown
}

export interface Drift extends ItemRef {
  differences: Difference[]
  /** Why apply leaves it alone: RabbitMQ cannot change a declared object in place. */
  reason: string
}

/** What the broker has: everything (management API), or only which names exist (passive declares). */
export type Observed = {mode: 'full'; topology: Topology} | {mode: 'existence'; exchanges: ReadonlySet<string>; queues: ReadonlySet<string>}

export interface TopologyPlan {
  /** full: arguments and bindings compared; existence: only whether exchanges and queues exist. */
  check: 'full' | 'existence'
  create: {exchanges: ExchangeSpec[]; queues: QueueSpec[]; bindings: BindingSpec[]}
  unchanged: ItemRef[]
  drifted: Drift[]
  extra: ItemRef[]
  /** Bindings whose presence could not be checked (existence mode). */
  unverified: ItemRef[]
  /** A binding names an exchange or queue that neither the file nor the broker has. */
  problems: string[]
}

export const CANNOT_CHANGE = 'RabbitMQ cannot change this in place; delete and re-declare it (apply --recreate-drifted does so for empty classic queues)'

/** Arguments brokers report although nobody declared them, with the value that means "as if absent". */
const IMPLICIT_QUEUE_ARGUMENTS: Args = {'x-queue-type': 'classic'}

function normaliseArgs(args: Args, implicit: Args = {}): Args {
  const out: Args = {}
  for (const [key, value] of Object.entries(args)) {
    if (value === null || value === undefined) continue
    if (key in implicit && canonical(implicit[key]) === canonical(value)) continue
    out[key] = value
  }
  return out
}

function compareArgs(file: Args, broker: Args): Difference[] {
  const diffs: Difference[] = []
  for (const key of [...new Set([...Object.keys(file), ...Object.keys(broker)])].sort()) {
    const a = file[key] ?? null
    const b = broker[key] ?? null
    if (canonical(a) !== canonical(b)) diffs.push({field: key, file: a, broker: b})
  }
  return diffs
}

export function exchangeDifferences(file: ExchangeSpec, broker: ExchangeSpec): Difference[] {
  const diffs: Difference[] = []
  for (const field of ['type', 'durable', 'autoDelete', 'internal'] as const)
    if (file[field] !== broker[field]) diffs.push({field, file: file[field], broker: broker[field]})
  return [...diffs, ...compareArgs(normaliseArgs(file.arguments), normaliseArgs(broker.arguments))]
}

export function queueDifferences(file: QueueSpec, broker: QueueSpec): Difference[] {
  const diffs: Difference[] = []
  for (const field of ['type', 'durable', 'autoDelete'] as const)
    if (file[field] !== broker[field]) diffs.push({field, file: file[field], broker: broker[field]})
  // The type is compared as `type`; x-queue-type would only repeat it.
  const fileArgs = normaliseArgs(file.arguments, IMPLICIT_QUEUE_ARGUMENTS)
  const brokerArgs = normaliseArgs(broker.arguments, IMPLICIT_QUEUE_ARGUMENTS)
  delete fileArgs['x-queue-type']
  delete brokerArgs['x-queue-type']
  return [...diffs, ...compareArgs(fileArgs, brokerArgs)]
}

/** Objects every vhost has or that belong to one connection: never `extra`. */
function isImplicitExchange(e: ExchangeSpec): boolean {
  return isBuiltInExchange(e.name)
}
function isImplicitQueue(q: QueueSpec): boolean {
  return q.exclusive === true || q.name.startsWith('amq.gen-')
}
function isImplicitBinding(b: BindingSpec): boolean {
  return b.source === ''
}

/**
 * Compares the file with what the broker has. Pure: the same inputs always give the same plan.
 *
 * | object in file | on broker (full check)           | on broker (existence check) | result                       |
 * | -------------- | -------------------------------- | --------------------------- | ---------------------------- |
 * | yes            | absent                           | absent                      | create                       |
 * | yes            | same type, flags and arguments   | —                           | unchanged                    |
 * | yes            | other type, flag or argument     | —                           | drift (differences listed)   |
 * | yes            | —                                | present                     | unchanged (existence only)   |
 * | binding        | —                                | an end is to be created     | create                       |
 * | binding        | —                                | both ends exist             | unverified                   |
 * | no             | present, not built-in/implicit   | (cannot be listed)          | extra (reported, untouched)  |
 * | no             | "" / amq.* / exclusive / ""-binds| —                           | ignored                      |
 *
 * Bindings have no arguments that could drift: a binding with other arguments is another binding.
 * Normalisation: an argument that is null or absent is the same; x-queue-type "classic" equals no x-queue-type.
 */
export function planTopology(file: Topology, observed: Observed): TopologyPlan {
  const plan: TopologyPlan = {
    check: observed.mode,
    create: {exchanges: [], queues: [], bindings: []},
    unchanged: [],
    drifted: [],
    extra: [],
    unverified: [],
    problems: [],
  }
  const fileExchanges = new Set(file.exchanges.map((e) => e.name))
  const fileQueues = new Set(file.queues.map((q) => q.name))
  let exchangeExists: (name: string) => boolean
  let queueExists: (name: string) => boolean

  if (observed.mode === 'full') {
    const brokerExchanges = new Map(observed.topology.exchanges.map((e) => [e.name, e]))
    const brokerQueues = new Map(observed.topology.queues.map((q) => [q.name, q]))
    exchangeExists = (name) => isBuiltInExchange(name) || brokerExchanges.has(name)
    queueExists = (name) => brokerQueues.has(name)
    for (const e of file.exchanges) {
      const there = brokerExchanges.get(e.name)
      if (!there) plan.create.exchanges.push(e)
      else {
        const differences = exchangeDifferences(e, there)
        if (differences.length === 0) plan.unchanged.push({kind: 'exchange', name: e.name})
        else plan.drifted.push({kind: 'exchange', name: e.name, differences, reason: CANNOT_CHANGE})
      }
    }
    for (const q of file.queues) {
      const there = brokerQueues.get(q.name)
      if (!there) plan.create.queues.push(q)
      else {
        const differences = queueDifferences(q, there)
        if (differences.length === 0) plan.unchanged.push({kind: 'queue', name: q.name})
        else plan.drifted.push({kind: 'queue', name: q.name, differences, reason: CANNOT_CHANGE})
      }
    }
    const brokerBindings = new Set(observed.topology.bindings.map((b) => bindingKey(b)))
    const fileBindings = new Set(file.bindings.map((b) => bindingKey(b)))
    for (const b of file.bindings) {
      if (brokerBindings.has(bindingKey(b))) plan.unchanged.push({kind: 'binding', name: bindingName(b)})
      else plan.create.bindings.push(b)
    }
    for (const e of observed.topology.exchanges) if (!fileExchanges.has(e.name) && !isImplicitExchange(e)) plan.extra.push({kind: 'exchange', name: e.name})
    for (const q of observed.topology.queues) if (!fileQueues.has(q.name) && !isImplicitQueue(q)) plan.extra.push({kind: 'queue', name: q.name})
    for (const b of observed.topology.bindings) if (!fileBindings.has(bindingKey(b)) && !isImplicitBinding(b)) plan.extra.push({kind: 'binding', name: bindingName(b)})
  } else {
    exchangeExists = (name) => isBuiltInExchange(name) || observed.exchanges.has(name)
    queueExists = (name) => observed.queues.has(name)
    for (const e of file.exchanges) {
      if (observed.exchanges.has(e.name)) plan.unchanged.push({kind: 'exchange', name: e.name})
      else plan.create.exchanges.push(e)
    }
    for (const q of file.queues) {
      if (observed.queues.has(q.name)) plan.unchanged.push({kind: 'queue', name: q.name})
      else plan.create.queues.push(q)
    }
    const created = (name: string, type: 'queue' | 'exchange') =>
      type === 'exchange' ? plan.create.exchanges.some((e) => e.name === name) : plan.create.queues.some((q) => q.name === name)
    for (const b of file.bindings) {
      if (created(b.source, 'exchange') || created(b.destination, b.destinationType)) plan.create.bindings.push(b)
      else plan.unverified.push({kind: 'binding', name: bindingName(b)})
    }
  }

  // A binding can only be made between objects that will exist.
  for (const [i, b] of file.bindings.entries()) {
    if (!fileExchanges.has(b.source) && !exchangeExists(b.source))
      plan.problems.push(`bindings[${i}] (${bindingName(b)}): exchange "${b.source}" is neither in the file nor on the broker`)
    const destThere = b.destinationType === 'exchange' ? fileExchanges.has(b.destination) || exchangeExists(b.destination) : fileQueues.has(b.destination) || queueExists(b.destination)
    if (!destThere) plan.problems.push(`bindings[${i}] (${bindingName(b)}): ${b.destinationType} "${b.destination}" is neither in the file nor on the broker`)
  }
  return plan
}

export function createdRefs(plan: TopologyPlan): ItemRef[] {
  return [
    ...plan.create.exchanges.map((e) => ({kind: 'exchange' as const, name: e.name})),
    ...plan.create.queues.map((q) => ({kind: 'queue' as const, name: q.name})),
    ...plan.create.bindings.map((b) => ({kind: 'binding' as const, name: bindingName(b)})),
  ]
}

/** Something would change (create) or does not match (drift): plan exits 1. Extra objects are not the file's business. */
export function planHasChanges(plan: TopologyPlan): boolean {
  return createdRefs(plan).length > 0 || plan.drifted.length > 0
}

/** One line for a PRECONDITION_FAILED reply: `inequivalent arg 'x-message-ttl' for queue 'q' in vhost 'v': received … but current is …`. */
export function parsePreconditionFailed(text: string): Difference | undefined {
  const match = /inequivalent arg '([^']+)' for (?:queue|exchange) '[^']*' in vhost '[^']*': received (?:the value )?(.+?)(?: of type '[^']+')? but current is (?:the value )?(.+?)(?: of type '[^']+')?"?$/.exec(text)
  if (!match) return undefined
  const value = (raw: string): unknown => (raw === 'none' ? null : raw.replace(/^'(.*)'$/, '$1'))
  return {field: match[1], file: value(match[2]), broker: value(match[3])}
}
