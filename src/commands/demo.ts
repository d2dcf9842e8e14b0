import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {Flags} from '@oclif/core'

import {demoBroker, demoCache} from '../adapters/demo.js'
import {AmqpDeadLetterQueues} from '../adapters/dlq.js'
import {ConfirmPublisher} from '../adapters/publisher.js'
import {openTopologyBroker} from '../adapters/topology.js'
import {BaseCommand} from '../base-command.js'
import {MAX_FAULT_RATE} from '../core/demo/faults.js'
import {type DemoPorts, type DemoReport, runDemo} from '../core/demo/run.js'
import {UsageError} from '../core/errors.js'
import {drainOutbox} from '../core/outbox/drain.js'
import {initSchema} from '../core/schema.js'
import {applyTopology} from '../core/topology/apply.js'
import {loadTopologyFile} from '../core/topology/model.js'
import {vhostOfAmqpUrl} from '../core/amqp-url.js'
import {demoQuestion, renderDemo} from '../render/demo.js'

const TOPOLOGY_FILE = fileURLToPath(new URL('../../examples/topology.yaml', import.meta.url))

export default class Demo extends BaseCommand<typeof Demo> {
  static summary = 'Run the whole order system on the configured services, with injected faults, so that every other command has something real to find.'
  static description = `Creates the reference schema and the topology of examples/topology.yaml, then runs in one process: an order service (each order and its outbox row in one transaction, the order's status cached in Redis), the relay (the code of \`outbox drain\`), and a consumer (manual acks, a prefetch, an inbox row per message id in the same transaction as the business update, duplicates discarded, the status written to Redis after the commit; poison messages rejected into order_queue.dlq).
Faults are chosen with --seed, each kind at --fault-rate, at most one per order: a crash between commit and publish, an order committed without its outbox row, a published message lost before the consumer recorded it, a poison message, a consumer failure that leaves the inbox record failed, a cache write skipped or wrong, and a duplicate delivery that the inbox discards.
It runs until the consumer is idle, then moves its rows one hour into the past (so reconcile's grace period does not hide them) and prints what it injected, named after the reconcile checks that should find it. Its rows, keys and message ids are recognisable by the prefix "demo-"; --reset removes those and nothing else (other messages in order_queue and order_queue.dlq stay, in their order). Run it on a scratch environment only.
--consume-only runs just the consumer, without faults, until the queue is idle: what you run after fixing things.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --yes',
    '<%= config.bin %> <%= command.id %> --orders 2000 --fault-rate 0.02 --seed 7 --reset --yes',
    '<%= config.bin %> <%= command.id %> --consume-only --yes --json',
  ]

  static flags = {
    orders: Flags.integer({description: 'how many orders to create', default: 10_000, min: 1, max: 10_000_000}),
    'fault-rate': Flags.string({description: `rate of each kind of fault, 0 to ${MAX_FAULT_RATE.toFixed(3)}`, default: '0.01'}),
    seed: Flags.integer({description: 'seed of the fault choice: the same seed injects the same faults', default: 42, min: 0, max: 2_147_483_647}),
    reset: Flags.boolean({description: 'first remove the rows, cache keys and queued messages of an earlier demo (ids "demo-…"); other messages stay'}),
    'consume-only': Flags.boolean({description: 'run only the consumer, without faults, until the queue is idle'}),
    prefetch: Flags.integer({description: 'consumer prefetch', default: 50, min: 1, max: 1000}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
  }

  async run(): Promise<DemoReport | {cancelled: true}> {
    const f = this.flags
    const faultRate = Number(f['fault-rate'])
    if (!/^\d*\.?\d+$/.test(f['fault-rate']) || !(faultRate <= MAX_FAULT_RATE))
      throw new UsageError(`--fault-rate ${f['fault-rate']} is out of range`, `use a number from 0 to ${MAX_FAULT_RATE.toFixed(3)}`)
    if (!existsSync(TOPOLOGY_FILE)) throw new UsageError(`the demo topology ${TOPOLOGY_FILE} is missing`, 'reinstall msgops')
    const config = this.settings
    this.services.mysqlPoolSize = 16
    const topology = await loadTopologyFile(TOPOLOGY_FILE, vhostOfAmqpUrl(config.amqp.url))
    const topologyNames = {exchange: 'order_exchange', routingKey: 'order.created', queue: 'order_queue', deadLetterQueue: 'order_queue.dlq'}
    const options = {config, orders: f.orders, faultRate, seed: f.seed, reset: f.reset, consumeOnly: f['consume-only'], prefetch: f.prefetch, topology: topologyNames}
    const publishers: ConfirmPublisher[] = []
    try {
      return await this.change<DemoReport | {cancelled: true}>({
        yes: f.yes,
        progress: 'demo',
        work: async (ctx) => {
          if (!(await ctx.confirm(demoQuestion(f, ctx.target)))) return {cancelled: true}
          const ports = await this.demoPorts(ctx.signal, topology, publishers)
          return runDemo(ports, options, ctx.progress)
        },
        outcome: (r) => ('cancelled' in r ? 'cancelled' : 'ok'),
        render: (r) => ('cancelled' in r ? undefined : renderDemo(r)),
        // The consumer alone writes no demo data of its own: nothing to audit.
        audit: f['consume-only'] ? undefined : (r) => ('cancelled' in r ? {} : {orders: r.orders, seed: r.seed, faultRate: r.faultRate, injected: r.injected}),
      })
    } finally {
      for (const publisher of publishers) await publisher.close()
    }
  }

  /** The order system's parts on the configured services; the publishers are closed by run() when it ends. */
  private async demoPorts(signal: AbortSignal, topology: Awaited<ReturnType<typeof loadTopologyFile>>, publishers: ConfirmPublisher[]): Promise<DemoPorts> {
    const config = this.settings
    const [sql, amqp, redis] = await Promise.all([this.services.mysql(), this.services.amqp(), this.services.redis()])
    const [publisher, relayPublisher] = [new ConfirmPublisher(amqp), new ConfirmPublisher(amqp)]
    publishers.push(publisher, relayPublisher)
    return {
      sql, publisher, signal,
      broker: demoBroker(amqp),
      queues: new AmqpDeadLetterQueues(amqp),
      cache: demoCache(redis, config.cache),
      prepare: async () => {
        await initSchema(sql, config)
        await applyTopology(await openTopologyBroker(this.services), topology, {})
      },
      relay: async () => (await drainOutbox({sql, publisher: relayPublisher, signal}, {config, olderThanMs: 0})).published,
    }
  }
}
