/**
 * `npm run bench -- publisher [--messages 100000] [--rounds 3] [--batch 500] [--in-flight 3]`
 * The client's own cost of msgops' publisher, without a database: the same persistent, mandatory, confirmed publishes
 * (148-byte JSON bodies, messageId, contentType and type, as a drain sends them) in alternating order over --rounds:
 *  - the anchor: the drain bench's raw amqplib loop (rawPublish) on a confirm channel, a sliding window of batch × in-flight;
 *  - ConfirmPublisher.publishBatch() in batches of --batch, --in-flight batches awaiting their confirms (the drain's flow).
 * Prints one table (medians, every round, ratio to the raw loop) and the client CPU per 1,000 messages of each case:
 * the figure that showed amqplib's Args.publish gone megamorphic (bench/RESULTS.md#publisher).
 */
import amqp from 'amqplib'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {ConfirmPublisher} from '../src/adapters/publisher.js'
import type {OutgoingMessage} from '../src/core/ports.js'
import {createTestVhost} from '../test/helpers/env.js'
import {alternate, BENCH_PREFIX, type Case, cpuMsOf, load, median, table} from './_rounds.js'
import {option, payload, rawPublish} from './drain.js'

const EXCHANGE = 'bench.x'
const PROPERTIES = {contentType: 'application/json', type: 'order.created'}

export async function main(args: string[]): Promise<void> {
  const n = option(args, 'messages', 100_000)
  const rounds = option(args, 'rounds', 3)
  const batch = option(args, 'batch', 500)
  const depth = option(args, 'in-flight', 3)
  const vhost = await createTestVhost(BENCH_PREFIX)
  const conn = await amqp.connect(vhost.amqpUrl)
  const out = (line: string) => process.stdout.write(`${line}\n`)
  try {
    const setup = await conn.createChannel()
    await setup.assertExchange(EXCHANGE, 'topic', {durable: true})
    await setup.assertQueue('bench.q', {durable: true})
    await setup.bindQueue('bench.q', EXCHANGE, '#')
    const bodies = Array.from({length: n}, (_, i) => Buffer.from(payload(i)))
    const cpu = new Map<string, number[]>()
    const rawName = `raw amqplib loop (window ${batch * depth})`
    const ownName = `ConfirmPublisher.publishBatch (${depth} batches of ${batch} in flight)`
    const cases: Case[] = [
      {
        name: rawName, anchor: true,
        async run() {
          await setup.purgeQueue('bench.q')
          const r = await rawPublish(conn, bodies, batch * depth, (i) => ({messageId: `m-${i}`, ...PROPERTIES}))
          cpu.set(rawName, [...(cpu.get(rawName) ?? []), r.cpuMs / (n / 1000)])
          return n / r.seconds
        },
      },
      {
        name: ownName,
        async run() {
          await setup.purgeQueue('bench.q')
          // Connected before the clock starts, as the raw loop's channel is; the publisher opens its channel on the first batch.
          const adapter = await AmqpAdapter.connect(vhost.amqpUrl, 5000)
          const publisher = new ConfirmPublisher(adapter)
          const used = process.cpuUsage()
          const started = performance.now()
          const inFlight = new Set<Promise<unknown>>()
          for (let i = 0; i < n; i += batch) {
            const messages: OutgoingMessage[] = bodies.slice(i, i + batch).map((body, k) => ({exchange: EXCHANGE, routingKey: 'order.created', body, properties: {messageId: `m-${i + k}`, ...PROPERTIES}}))
            const work: Promise<unknown> = publisher.publishBatch(messages, {timeoutMs: 60_000}).then((outcomes) => {
              inFlight.delete(work)
              if (outcomes.some((o) => o.status !== 'confirmed')) throw new Error('a publish was not confirmed')
            })
            inFlight.add(work)
            while (inFlight.size >= depth) await Promise.race(inFlight)
          }
          await Promise.all(inFlight)
          const seconds = (performance.now() - started) / 1000
          cpu.set(ownName, [...(cpu.get(ownName) ?? []), cpuMsOf(process.cpuUsage(used)) / (n / 1000)])
          await publisher.close()
          await adapter.close()
          return n / seconds
        },
      },
    ]
    const before = load()
    const {rates, loads} = await alternate(cases, rounds, async () => {}, out)
    out('')
    out(`publisher: ${n.toLocaleString('en-US')} messages per case per round, payload ${bodies[0].length} bytes (JSON), persistent, mandatory, one durable queue; ${rounds} rounds in alternating order`)
    out(`load average (1, 5, 15 min) before the run ${before}, before each round ${loads.join(' | ')}, after ${load()}`)
    out(table(cases, rates))
    out(`client CPU per 1,000 messages (median): ${cases.map((c) => `${c.name} ${median(cpu.get(c.name) ?? []).toFixed(1)} ms`).join('; ')}`)
  } finally {
    await conn.close().catch(() => {})
    await vhost.drop()
  }
}
