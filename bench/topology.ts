/**
 * `npm run bench -- topology [--objects 200]`: applies N objects (exchanges, queues, bindings) to an empty vhost
 * with `applyTopology`, then applies them again; the raw limit is declaring the same objects with plain amqplib
 * on another empty vhost in the same run (and declaring them again). Prints seconds and ratios.
 */
import amqp from 'amqplib'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {ManagementClient} from '../src/adapters/management.js'
import {BrokerTopology} from '../src/adapters/topology.js'
import {applyTopology} from '../src/core/topology/apply.js'
import {parseTopologyModel, type Topology} from '../src/core/topology/model.js'

const AMQP = process.env.MSGOPS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const MANAGEMENT = process.env.MSGOPS_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672'

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`)
  const value = i >= 0 ? Number(args[i + 1]) : fallback
  if (!Number.isInteger(value) || value < 5) throw new Error(`--${name} must be an integer >= 5`)
  return value
}

/** N objects: a fifth exchanges, two fifths queues (half with dead-lettering and a TTL), two fifths bindings. */
function topologyOf(n: number): Topology {
  const exchanges = Math.max(1, Math.floor(n / 5))
  const queues = Math.floor((n - exchanges) / 2)
  const bindings = n - exchanges - queues
  return parseTopologyModel({
    exchanges: Array.from({length: exchanges}, (_, i) => ({name: `bench_x${i}`, type: i % 2 ? 'direct' : 'topic'})),
    queues: Array.from({length: queues}, (_, i) => ({
      name: `bench_q${i}`,
      ...(i % 4 === 3 ? {type: 'quorum'} : {}),
      arguments: i % 2 ? {deadLetterExchange: 'bench_x0', messageTtl: 60_000} : {},
    })),
    bindings: Array.from({length: bindings}, (_, i) => ({source: `bench_x${i % exchanges}`, destination: `bench_q${i % queues}`, routingKey: `key.${i}`})),
  })
}

async function rawDeclare(ch: amqp.Channel, t: Topology): Promise<void> {
  for (const e of t.exchanges) await ch.assertExchange(e.name, e.type, {durable: e.durable, autoDelete: e.autoDelete, internal: e.internal, arguments: e.arguments})
  for (const q of t.queues)
    await ch.assertQueue(q.name, {durable: q.durable, autoDelete: q.autoDelete, arguments: q.type === 'classic' ? q.arguments : {...q.arguments, 'x-queue-type': q.type}})
  for (const b of t.bindings) await ch.bindQueue(b.destination, b.source, b.routingKey, b.arguments)
}

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now()
  const result = await work()
  return [(performance.now() - started) / 1000, result]
}

export async function main(args: string[]): Promise<void> {
  const n = option(args, 'objects', 200)
  const management = new ManagementClient(MANAGEMENT, 10_000)
  const stamp = Date.now().toString(36)
  const vhosts = {raw: `msgops_bench_raw_${stamp}`, ours: `msgops_bench_topology_${stamp}`, raw2: `msgops_bench_raw2_${stamp}`}
  const user = new URL(AMQP).username || 'guest'
  const urlOf = (vhost: string) => `${AMQP.replace(/\/$/, '')}/${encodeURIComponent(vhost)}`
  for (const vhost of Object.values(vhosts)) {
    await management.request('PUT', `/vhosts/${encodeURIComponent(vhost)}`, {})
    await management.request('PUT', `/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, {configure: '.*', write: '.*', read: '.*'})
  }
  const topology = topologyOf(n)
  let adapter: AmqpAdapter | undefined
  let raw: amqp.ChannelModel | undefined
  let raw2: amqp.ChannelModel | undefined
  try {
    // Connections are opened before the clocks start, for both.
    raw = await amqp.connect(urlOf(vhosts.raw))
    const channel = await raw.createChannel()
    const [rawFirst1] = await timed(() => rawDeclare(channel, topology))
    const [rawAgain1] = await timed(() => rawDeclare(channel, topology))

    adapter = await AmqpAdapter.connect(urlOf(vhosts.ours), 10_000)
    const broker = new BrokerTopology(adapter, management, vhosts.ours)
    const [first, firstReport] = await timed(() => applyTopology(broker, topology))
    const [again, againReport] = await timed(() => applyTopology(broker, topology))
    // The raw limit once more after ours, on a third empty vhost: the faster of the two runs is the limit (warm-up bias).
    raw2 = await amqp.connect(urlOf(vhosts.raw2))
    const channel2 = await raw2.createChannel()
    const [rawFirst2] = await timed(() => rawDeclare(channel2, topology))
    const [rawAgain2] = await timed(() => rawDeclare(channel2, topology))
    const rawFirst = Math.min(rawFirst1, rawFirst2)
    const rawAgain = Math.min(rawAgain1, rawAgain2)
    if (firstReport.created.length !== n || firstReport.exitCode !== 0) throw new Error(`first apply created ${firstReport.created.length} of ${n}`)
    if (againReport.created.length !== 0 || againReport.exitCode !== 0) throw new Error(`re-apply created ${againReport.created.length}, expected 0`)

    const line = (label: string, s: number, raw: number) => `${label.padEnd(34)} ${s.toFixed(3).padStart(7)} s   ${(s / raw).toFixed(2).padStart(6)}× raw`
    process.stdout.write(
      [
        `topology: ${n} objects (${topology.exchanges.length} exchanges, ${topology.queues.length} queues, ${topology.bindings.length} bindings)`,
        `${'raw amqplib declare, empty vhost'.padEnd(34)} ${rawFirst.toFixed(3).padStart(7)} s   (the limit; best of 2 runs: ${rawFirst1.toFixed(3)}, ${rawFirst2.toFixed(3)})`,
        `${'raw amqplib declare again'.padEnd(34)} ${rawAgain.toFixed(3).padStart(7)} s`,
        line('msgops apply, empty vhost', first, rawFirst),
        line('msgops re-apply (nothing to do)', again, rawAgain),
        `re-apply under 1 s: ${again < 1 ? 'yes' : 'NO'}`,
        `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
        '',
      ].join('\n'),
    )
  } finally {
    await adapter?.close()
    await raw?.close().catch(() => {})
    await raw2?.close().catch(() => {})
    for (const vhost of Object.values(vhosts)) await management.request('DELETE', `/vhosts/${encodeURIComponent(vhost)}`).catch(() => {})
  }
}
