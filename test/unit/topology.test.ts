import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {UsageError} from '../../src/core/errors.js'
import {applyTopology, describeDrift} from '../../src/core/topology/apply.js'
import {toDefinitions, toDocument} from '../../src/core/topology/export.js'
import {parseDefinitions, parseTopologyModel, parseTopologyText, type Topology} from '../../src/core/topology/model.js'
import {vhostOfAmqpUrl} from '../../src/core/amqp-url.js'
import {parsePreconditionFailed, planHasChanges, planTopology} from '../../src/core/topology/plan.js'
import {BrokerRefusal, type TopologyBroker} from '../../src/core/topology/ports.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/topology.yaml', import.meta.url))

function usageMessage(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return (error as Error).message
  }
  throw new Error('expected a UsageError')
}

/** What a fresh vhost holds besides the user's objects. */
const BUILT_IN: Topology = {
  exchanges: [
    {name: '', type: 'direct', durable: true, autoDelete: false, internal: false, arguments: {}},
    {name: 'amq.topic', type: 'topic', durable: true, autoDelete: false, internal: false, arguments: {}},
    {name: 'amq.rabbitmq.trace', type: 'topic', durable: true, autoDelete: false, internal: true, arguments: {}},
  ],
  queues: [],
  bindings: [],
}

function withBuiltIns(topology: Topology): Topology {
  const t = structuredClone(topology)
  return {
    exchanges: [...structuredClone(BUILT_IN.exchanges), ...t.exchanges],
    queues: t.queues,
    // Every queue is bound to the default exchange by its name.
    bindings: [...t.queues.map((q) => ({source: '', destination: q.name, destinationType: 'queue' as const, routingKey: q.name, arguments: {}})), ...t.bindings],
  }
}

describe('topology file model', () => {
  it('parses the example into broker arguments with defaults filled in', () => {
    const t = parseTopologyText(readFileSync(EXAMPLE, 'utf8'), '/', 'examples/topology.yaml')
    expect(t.exchanges.map((e) => [e.name, e.type, e.durable])).toEqual([
      ['order_exchange', 'topic', true],
      ['order_exchange.dlx', 'direct', true],
    ])
    const queue = t.queues.find((q) => q.name === 'order_queue')!
    expect(queue.type).toBe('classic')
    expect(queue.arguments).toEqual({'x-dead-letter-exchange': 'order_exchange.dlx', 'x-dead-letter-routing-key': 'order_queue.dlq'})
    expect(t.queues.map((q) => q.name)).toContain('order_queue.dlq')
    expect(t.bindings).toContainEqual({source: 'order_exchange', destination: 'order_queue', destinationType: 'queue', routingKey: 'order.*', arguments: {}})
  })

  it('names the path of a wrong argument type', () => {
    const queues = [{name: 'a'}, {name: 'b'}, {name: 'c'}, {name: 'd', arguments: {messageTtl: '60s'}}]
    expect(usageMessage(() => parseTopologyModel({queues}, 'f.yaml'))).toContain('queues[3].arguments.messageTtl: expected a number')
  })

  it('names unknown keys, unknown arguments, bad enums and duplicates', () => {
    expect(usageMessage(() => parseTopologyModel({queues: [{name: 'a', ttl: 5}]}))).toMatch(/queues\[0\]: unknown key "ttl"/)
    expect(usageMessage(() => parseTopologyModel({queues: [{name: 'a', arguments: {ttl: 5}}]}))).toMatch(/queues\[0\]\.arguments\.ttl: unknown argument/)
    expect(usageMessage(() => parseTopologyModel({exchanges: [{name: 'e', type: 'tpoic'}]}))).toMatch(/exchanges\[0\]\.type: expected one of direct\|topic\|fanout\|headers/)
    expect(usageMessage(() => parseTopologyModel({queues: [{name: 'a', arguments: {overflow: 'drop'}}]}))).toMatch(/queues\[0\]\.arguments\.overflow: expected one of drop-head\|reject-publish\|reject-publish-dlx/)
    expect(usageMessage(() => parseTopologyModel({queues: [{name: 'a'}, {name: 'a'}]}))).toMatch(/queues\[1\]\.name: "a" is declared twice/)
    expect(usageMessage(() => parseTopologyModel({queues: [{name: 'a', type: 'quorum', durable: false}]}))).toMatch(/queues\[0\]\.durable: a quorum queue must be durable/)
    expect(usageMessage(() => parseTopologyModel({exchanges: [{name: 'amq.topic', type: 'topic'}]}))).toMatch(/exchanges\[0\]\.name: amq\.\* names are reserved/)
    expect(usageMessage(() => parseTopologyModel({queues: [{name: 'a', arguments: {messageTtl: 5, 'x-message-ttl': 5}}]}))).toMatch(/given twice/)
    expect(usageMessage(() => parseTopologyModel({queues: [{name: 'a', arguments: {'x-queue-type': 'quorum'}}]}))).toMatch(/type:/)
    expect(usageMessage(() => parseTopologyModel({topics: []}))).toMatch(/unknown key "topics"/)
  })

  it('maps every friendly key and keeps raw x-arguments', () => {
    const t = parseTopologyModel({
      exchanges: [{name: 'e', type: 'fanout', arguments: {alternateExchange: 'ae'}}],
      queues: [{name: 'q', type: 'quorum', arguments: {messageTtl: 1000, maxLength: 10, overflow: 'reject-publish', deliveryLimit: 3, 'x-custom': 'v'}}],
    })
    expect(t.exchanges[0].arguments).toEqual({'alternate-exchange': 'ae'})
    expect(t.queues[0].arguments).toEqual({'x-message-ttl': 1000, 'x-max-length': 10, 'x-overflow': 'reject-publish', 'x-delivery-limit': 3, 'x-custom': 'v'})
  })

  it('reports a YAML syntax error with its line', () => {
    expect(usageMessage(() => parseTopologyText('queues:\n  - name: a\n   bad: [', '/', 't.yaml'))).toMatch(/^t\.yaml: not valid YAML or JSON at line \d/)
  })

  it('reads definitions JSON, dropping built-ins and taking x-queue-type as the type', () => {
    const defs = {
      rabbit_version: '3.10.8',
      exchanges: [{name: 'ex', vhost: 'v', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {}}],
      queues: [{name: 'q', vhost: 'v', durable: true, auto_delete: false, arguments: {'x-queue-type': 'quorum', 'x-message-ttl': 5}}],
      bindings: [{source: 'ex', vhost: 'v', destination: 'q', destination_type: 'queue', routing_key: 'k', arguments: {}}],
    }
    const t = parseTopologyText(JSON.stringify(defs), 'v', 'defs.json')
    expect(t.queues).toEqual([{name: 'q', type: 'quorum', durable: true, autoDelete: false, arguments: {'x-message-ttl': 5}}])
    expect(t.bindings[0]).toEqual({source: 'ex', destination: 'q', destinationType: 'queue', routingKey: 'k', arguments: {}})
  })

  it('takes only the target vhost from a whole-broker definitions export', () => {
    const queue = (name: string, vhost: string) => ({name, vhost, durable: true, auto_delete: false, arguments: {}})
    const t = parseDefinitions({rabbit_version: 'x', queues: [queue('a', 'one'), queue('b', 'two')]}, 'two')
    expect(t.queues.map((q) => q.name)).toEqual(['b'])
  })

  it('reads the vhost from the AMQP URL path', () => {
    expect(vhostOfAmqpUrl('amqp://guest:guest@127.0.0.1:5672')).toBe('/')
    expect(vhostOfAmqpUrl('amqp://127.0.0.1:5672/')).toBe('/')
    expect(vhostOfAmqpUrl('amqp://127.0.0.1/orders')).toBe('orders')
    expect(vhostOfAmqpUrl('amqp://127.0.0.1/%2F')).toBe('/')
    expect(vhostOfAmqpUrl('amqp://127.0.0.1/a%2Fb')).toBe('a/b')
  })
})

describe('planTopology (decision table)', () => {
  const file = parseTopologyText(readFileSync(EXAMPLE, 'utf8'), '/', 'example')

  it('an empty vhost: everything is created, built-ins are never extra', () => {
    const plan = planTopology(file, {mode: 'full', topology: BUILT_IN})
    expect(plan.create.exchanges).toHaveLength(2)
    expect(plan.create.queues).toHaveLength(2)
    expect(plan.create.bindings).toHaveLength(2)
    expect(plan.extra).toEqual([])
    expect(planHasChanges(plan)).toBe(true)
  })

  it('the same objects on the broker, with implicit bindings and x-queue-type classic: nothing to change', () => {
    const broker = withBuiltIns(file)
    broker.queues = broker.queues.map((q) => ({...q, arguments: {...q.arguments, 'x-queue-type': 'classic'}}))
    const plan = planTopology(file, {mode: 'full', topology: broker})
    expect(plan.extra).toEqual([])
    expect(plan.drifted).toEqual([])
    expect(plan.unchanged).toHaveLength(6)
    expect(planHasChanges(plan)).toBe(false)
  })

  it('other type, flag or argument: drift naming each difference', () => {
    const broker = withBuiltIns(file)
    broker.exchanges = broker.exchanges.map((e) => (e.name === 'order_exchange' ? {...e, type: 'direct'} : e))
    broker.queues = broker.queues.map((q) => (q.name === 'order_queue' ? {...q, type: 'quorum' as const, arguments: {...q.arguments, 'x-message-ttl': 5000}} : q))
    const plan = planTopology(file, {mode: 'full', topology: broker})
    expect(plan.drifted).toHaveLength(2)
    const queue = plan.drifted.find((d) => d.kind === 'queue')!
    expect(queue.differences).toEqual([
      {field: 'type', file: 'classic', broker: 'quorum'},
      {field: 'x-message-ttl', file: null, broker: 5000},
    ])
    expect(plan.drifted.find((d) => d.kind === 'exchange')!.differences).toEqual([{field: 'type', file: 'topic', broker: 'direct'}])
    expect(describeDrift(queue)).toBe('queue "order_queue": type is quorum on the broker, classic in the file; x-message-ttl is 5000 on the broker, none in the file')
  })

  it('objects the file does not name are extra; exclusive queues and default bindings are not', () => {
    const broker = withBuiltIns(file)
    broker.exchanges.push({name: 'legacy', type: 'fanout', durable: true, autoDelete: false, internal: false, arguments: {}})
    broker.queues.push({name: 'legacy_q', type: 'classic', durable: true, autoDelete: false, arguments: {}})
    broker.queues.push({name: 'amq.gen-abc', type: 'classic', durable: false, autoDelete: true, exclusive: true, arguments: {}})
    broker.queues.push({name: 'reply_q', type: 'classic', durable: false, autoDelete: true, exclusive: true, arguments: {}})
    broker.bindings.push({source: 'amq.topic', destination: 'legacy_q', destinationType: 'queue', routingKey: '#', arguments: {}})
    const plan = planTopology(file, {mode: 'full', topology: broker})
    expect(plan.extra).toEqual([
      {kind: 'exchange', name: 'legacy'},
      {kind: 'queue', name: 'legacy_q'},
      {kind: 'binding', name: 'amq.topic -> legacy_q [#]'},
    ])
    expect(planHasChanges(plan)).toBe(false)
  })

  it('a binding with other arguments is another binding: create plus extra, never drift', () => {
    const broker = withBuiltIns(file)
    broker.bindings = broker.bindings.map((b) => (b.routingKey === 'order.*' ? {...b, arguments: {'x-match': 'all'}} : b))
    const plan = planTopology(file, {mode: 'full', topology: broker})
    expect(plan.create.bindings.map((b) => b.routingKey)).toEqual(['order.*'])
    expect(plan.extra).toEqual([{kind: 'binding', name: 'order_exchange -> order_queue [order.*] {"x-match":"all"}'}])
  })

  it('existence mode: present is unchanged, bindings between existing objects are unverified', () => {
    const plan = planTopology(file, {mode: 'existence', exchanges: new Set(['order_exchange', 'order_exchange.dlx']), queues: new Set(['order_queue'])})
    expect(plan.check).toBe('existence')
    expect(plan.create.queues.map((q) => q.name)).toEqual(['order_queue.dlq'])
    expect(plan.create.bindings.map((b) => b.destination)).toEqual(['order_queue.dlq'])
    expect(plan.unverified.map((r) => r.name)).toEqual(['order_exchange -> order_queue [order.*]'])
    expect(plan.extra).toEqual([])
  })

  it('a binding to an exchange or queue that exists nowhere is a problem; built-in sources are fine', () => {
    const t = parseTopologyModel({queues: [{name: 'q'}], bindings: [{source: 'amq.topic', destination: 'q'}, {source: 'nowhere', destination: 'q'}, {source: 'amq.direct', destination: 'missing'}]})
    const plan = planTopology(t, {mode: 'full', topology: BUILT_IN})
    expect(plan.problems).toHaveLength(2)
    expect(plan.problems[0]).toMatch(/bindings\[1\].*exchange "nowhere" is neither in the file nor on the broker/)
    expect(plan.problems[1]).toMatch(/bindings\[2\].*queue "missing"/)
  })
})

describe('parsePreconditionFailed', () => {
  it('reads the argument and both values from the broker reply', () => {
    expect(parsePreconditionFailed("inequivalent arg 'x-message-ttl' for queue 'q' in vhost 'v': received the value '60000' of type 'signedint' but current is none")).toEqual({
      field: 'x-message-ttl',
      file: '60000',
      broker: null,
    })
    expect(parsePreconditionFailed("inequivalent arg 'type' for exchange 'e' in vhost '/': received 'direct' but current is 'topic'")).toEqual({field: 'type', file: 'direct', broker: 'topic'})
    expect(parsePreconditionFailed('something else')).toBeUndefined()
  })
})

describe('export round trip', () => {
  const broker = withBuiltIns(
    parseTopologyModel({
      exchanges: [
        {name: 'e', type: 'headers', durable: false, autoDelete: true, internal: true, arguments: {alternateExchange: 'ae'}},
        {name: 'ae', type: 'fanout'},
      ],
      queues: [
        {name: 'q', type: 'quorum', arguments: {deliveryLimit: 5, 'x-custom': 1}},
        {name: 'c', durable: false, autoDelete: true, arguments: {messageTtl: 10}},
      ],
      bindings: [
        {source: 'e', destination: 'q', arguments: {'x-match': 'any', a: 1}},
        {source: 'ae', destination: 'e', destinationType: 'exchange', routingKey: 'k'},
      ],
    }),
  )
  broker.queues[0].arguments['x-queue-type'] = 'quorum'

  it('our YAML reads back as exactly what the broker has', () => {
    const doc = toDocument(broker)
    expect(doc.exchanges.map((e) => e.name)).toEqual(['ae', 'e'])
    const again = parseTopologyText(stringify(doc), '/', 'export.yaml')
    const plan = planTopology(again, {mode: 'full', topology: broker})
    expect(plan.unchanged).toHaveLength(6)
    expect(planHasChanges(plan)).toBe(false)
    expect(plan.extra).toEqual([])
  })

  it('definitions JSON reads back as exactly what the broker has', () => {
    const defs = toDefinitions(broker, 'v')
    expect(defs.queues.find((q) => q.name === 'q')!.arguments).toMatchObject({'x-queue-type': 'quorum'})
    const again = parseTopologyText(JSON.stringify(defs), 'v', 'defs.json')
    const plan = planTopology(again, {mode: 'full', topology: broker})
    expect(planHasChanges(plan)).toBe(false)
    expect(plan.extra).toEqual([])
  })
})

/** An in-memory broker, only to check the order and choices of apply; the integration tests use RabbitMQ. */
class FakeBroker implements TopologyBroker {
  readonly vhost = 'v'
  calls: string[] = []
  messages = new Map<string, number>()
  constructor(
    public state: Topology,
    private readonly withManagement = true,
  ) {}
  async readAll() {
    return this.withManagement ? structuredClone(this.state) : undefined
  }
  async exchangeExists(name: string) {
    return this.state.exchanges.some((e) => e.name === name)
  }
  async queueExists(name: string) {
    return this.state.queues.some((q) => q.name === name)
  }
  async declareExchange(e: Topology['exchanges'][number]) {
    this.calls.push(`exchange ${e.name}`)
    const there = this.state.exchanges.find((x) => x.name === e.name)
    if (there && there.type !== e.type) throw new BrokerRefusal(406, `inequivalent arg 'type' for exchange '${e.name}' in vhost 'v': received '${e.type}' but current is '${there.type}'`)
    if (!there) this.state.exchanges.push(e)
  }
  async declareQueue(q: Topology['queues'][number]) {
    this.calls.push(`queue ${q.name}`)
    if (!this.state.queues.some((x) => x.name === q.name)) this.state.queues.push(q)
  }
  async bind(b: Topology['bindings'][number]) {
    this.calls.push(`bind ${b.source}->${b.destination}`)
    this.state.bindings.push(b)
  }
  async queueDepth(name: string) {
    return {messages: this.messages.get(name) ?? 0, consumers: 0}
  }
  async deleteEmptyQueue(name: string) {
    this.calls.push(`delete ${name}`)
    if ((this.messages.get(name) ?? 0) > 0) return false
    this.state.queues = this.state.queues.filter((q) => q.name !== name)
    this.state.bindings = this.state.bindings.filter((b) => b.destination !== name)
    return true
  }
}

describe('applyTopology', () => {
  const file = parseTopologyText(readFileSync(EXAMPLE, 'utf8'), '/', 'example')

  it('declares exchanges, then queues, then bindings; the second run creates nothing', async () => {
    const broker = new FakeBroker(structuredClone(BUILT_IN))
    const first = await applyTopology(broker, file)
    expect(broker.calls.map((c) => c.split(' ')[0])).toEqual(['exchange', 'exchange', 'queue', 'queue', 'bind', 'bind'])
    expect(first.created).toHaveLength(6)
    expect(first.exitCode).toBe(0)
    broker.calls = []
    const second = await applyTopology(broker, file)
    expect(second.created).toEqual([])
    expect(broker.calls).toEqual([])
    expect(second.exitCode).toBe(0)
  })

  it('never recreates without confirmation, never a queue with messages, and restores bindings', async () => {
    const state = withBuiltIns(file)
    state.queues = state.queues.map((q) => ({...q, arguments: {...q.arguments, 'x-message-ttl': 1}}))
    const broker = new FakeBroker(state)
    broker.messages.set('order_queue.dlq', 3)
    const refused = await applyTopology(broker, file, {recreateDrifted: true, confirm: async () => false})
    expect(broker.calls).toEqual([])
    expect(refused.exitCode).toBe(1)
    const questions: string[] = []
    const report = await applyTopology(broker, file, {recreateDrifted: true, confirm: async (q) => (questions.push(q), true)})
    expect(questions[0]).toMatch(/1 empty drifted queue\(s\).*order_queue\?/)
    expect(broker.calls).toEqual(['delete order_queue', 'queue order_queue', 'bind order_exchange->order_queue'])
    expect(report.recreated).toEqual([{kind: 'queue', name: 'order_queue'}])
    expect(report.drifted.map((d) => d.name)).toEqual(['order_queue.dlq'])
    expect(report.notes.join('\n')).toMatch(/order_queue\.dlq" holds 3 message/)
    expect(report.exitCode).toBe(1)
  })

  it('never deletes a drifted quorum queue: the broker has no delete-if-empty for it', async () => {
    const t = parseTopologyModel({queues: [{name: 'votes', type: 'quorum', arguments: {deliveryLimit: 3}}]})
    const state = withBuiltIns(parseTopologyModel({queues: [{name: 'votes', type: 'quorum'}]}))
    const broker = new FakeBroker(state)
    let asked = false
    const report = await applyTopology(broker, t, {recreateDrifted: true, confirm: async () => (asked = true)})
    expect(asked).toBe(false)
    expect(broker.calls).toEqual([])
    expect(report.recreated).toEqual([])
    expect(report.notes.join('\n')).toMatch(/"votes" is a quorum queue: RabbitMQ cannot delete it only-if-empty/)
    expect(report.exitCode).toBe(1)
  })

  it('without the management API: declares everything again and turns PRECONDITION_FAILED into drift', async () => {
    const state = withBuiltIns(file)
    state.exchanges = state.exchanges.map((e) => (e.name === 'order_exchange' ? {...e, type: 'fanout'} : e))
    const broker = new FakeBroker(state, false)
    const report = await applyTopology(broker, file)
    expect(report.check).toBe('existence')
    expect(report.created).toEqual([])
    expect(report.drifted).toEqual([expect.objectContaining({kind: 'exchange', name: 'order_exchange', differences: [{field: 'type', file: 'topic', broker: 'fanout'}]})])
    expect(report.notes.join('\n')).toMatch(/RabbitMQ refused exchange "order_exchange": type is fanout on the broker, topic in the file/)
    expect(report.exitCode).toBe(1)
  })

  it('refuses a binding to nothing before changing anything', async () => {
    const broker = new FakeBroker(structuredClone(BUILT_IN))
    const t = parseTopologyModel({queues: [{name: 'q'}], bindings: [{source: 'nowhere', destination: 'q'}]})
    await expect(applyTopology(broker, t)).rejects.toThrow(/exchange "nowhere" is neither in the file nor on the broker/)
    expect(broker.calls).toEqual([])
  })
})
