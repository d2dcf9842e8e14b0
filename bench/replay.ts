/**
 * `npm run bench -- replay [--messages 50000] [--rounds 3] [--raw-prefetch 200,1000,2000] [--core [--core-prefetch 1000,4000]] [--cli-args "…"]
 *   [--profile FILE]`
 * Moves N genuine dead letters (published to order_exchange, rejected by a consumer of order_queue, dead-lettered
 * by the broker with a real x-death into order_queue.dlq) back to order_exchange, in the same run and in alternating
 * order over --rounds rounds, each case on fresh dead letters made the same way:
 *  - the anchor: RabbitMQ's dynamic shovel (rabbitmq_shovel), ack-mode on-confirm, src-delete-after queue-length,
 *    timed from its creation to the last message in order_queue;
 *  - the raw amqplib loop (consume with manual acks → confirmed mandatory publish → ack on the confirm) at each
 *    --raw-prefetch;
 *  - `msgops dlq replay QUEUE --yes --json` at its defaults, as a user runs it: process start, lock and audit
 *    included, timed by the wall clock (its own loop's elapsedMs is shown as well); --core adds replayDeadLetters()
 *    in this process at the CLI's defaults, and --core-prefetch at each prefetch given as well.
 * Prints one table (medians, every round, ratios to the shovel and to the best raw loop) with the payload size, the
 * message count and the load. Needs dist/ (npm run build) and the shovel plugins (rabbitmq-plugins list).
 */

import amqp, {type Channel, type ChannelModel} from 'amqplib'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {AmqpDeadLetterQueues} from '../src/adapters/dlq.js'
import {ConfirmPublisher} from '../src/adapters/publisher.js'
import {DEFAULT_ERROR_HEADERS} from '../src/config/defaults.js'
import {DEFAULT_MAX_REPLAYS, replayDeadLetters} from '../src/core/dlq/replay.js'
import {DEFAULT_PREFETCH} from '../src/flags.js'
import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, MANAGEMENT_URL, runCli} from '../test/helpers/env.js'
import {alternate, BENCH_PREFIX, type Case, cpuMsOf, load, median, profiled, table} from './_rounds.js'

const EXCHANGE = 'order_exchange'
const QUEUE = 'order_queue'
const DLQ = 'order_queue.dlq'

function list(args: string[], name: string, fallback: number[]): number[] {
  const at = args.indexOf(`--${name}`)
  if (at < 0) return fallback
  const values = String(args[at + 1]).split(',').map(Number)
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`--${name} needs positive integers (separated by commas)`)
  return values
}

async function depth(ch: Channel, queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount
}

async function until(check: () => Promise<boolean>, everyMs = 100): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, everyMs))
}

async function management(method: string, path: string, body?: unknown): Promise<Response> {
  const url = new URL(MANAGEMENT_URL)
  const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')
  url.username = url.password = ''
  const res = await fetch(`${url.toString().replace(/\/$/, '')}/api${path}`, {method, headers: {authorization: `Basic ${auth}`, 'content-type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)})
  if (!res.ok && res.status !== 404) throw new Error(`management ${method} ${path}: HTTP ${res.status} ${await res.text()}`)
  return res
}

/** N fresh dead letters in the DLQ: published to order_exchange, rejected without requeue from order_queue. */
async function makeDeadLetters(conn: ChannelModel, ch: Channel, n: number, body: Buffer): Promise<void> {
  await ch.purgeQueue(QUEUE)
  await ch.purgeQueue(DLQ)
  const pub = await conn.createConfirmChannel()
  for (let i = 0; i < n; i++) {
    if (!pub.publish(EXCHANGE, 'order.created', body, {messageId: `bench-${i}`, contentType: 'application/json', persistent: true}))
      await new Promise((r) => pub.once('drain', r))
  }
  await pub.waitForConfirms()
  await pub.close()
  const consumer = await conn.createChannel()
  await consumer.prefetch(1000)
  await consumer.consume(QUEUE, (msg) => msg && consumer.nack(msg, false, false))
  await until(async () => (await depth(ch, DLQ)) === n)
  await consumer.close()
}

async function rawLoop(conn: ChannelModel, n: number, prefetch: number, publishOn: ChannelModel = conn): Promise<number> {
  const consume = await conn.createChannel()
  const publish = await publishOn.createConfirmChannel()
  await consume.prefetch(prefetch)
  const started = performance.now()
  let done = 0
  await new Promise<void>((resolve, reject) => {
    publish.on('return', () => reject(new Error('raw loop: a message was returned')))
    void consume.consume(DLQ, (msg) => {
      if (!msg) return
      const first = (msg.properties.headers?.['x-death'] as {exchange: string; 'routing-keys': string[]}[]).at(-1)!
      const p = msg.properties
      // Field by field, one shape: spread options make amqplib's Args.publish megamorphic (bench/RESULTS.md#publisher).
      const options = {mandatory: true, persistent: true, messageId: p.messageId, headers: p.headers, contentType: p.contentType, contentEncoding: p.contentEncoding,
        correlationId: p.correlationId, type: p.type, appId: p.appId, timestamp: p.timestamp, expiration: p.expiration, priority: p.priority, replyTo: p.replyTo, userId: p.userId}
      publish.publish(first.exchange, first['routing-keys'][0], msg.content, options, (error: unknown) => {
        if (error) return reject(error)
        consume.ack(msg)
        if (++done === n) resolve()
      })
    })
  })
  const seconds = (performance.now() - started) / 1000
  await consume.close()
  await publish.close()
  return n / seconds
}

/** RabbitMQ's own mover: a dynamic shovel from the DLQ back to order_exchange, deleted by itself once it moved the depth. */
async function shovel(vhost: string, ch: Channel, n: number): Promise<number> {
  const name = `bench-${Date.now()}`
  const uri = `amqp:///${encodeURIComponent(vhost)}`
  const path = `/parameters/shovel/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`
  const started = performance.now()
  await management('PUT', path, {
    value: {'src-protocol': 'amqp091', 'src-uri': uri, 'src-queue': DLQ, 'dest-protocol': 'amqp091', 'dest-uri': uri, 'dest-exchange': EXCHANGE, 'ack-mode': 'on-confirm', 'src-delete-after': 'queue-length'},
  })
  await until(async () => (await depth(ch, QUEUE)) >= n, 10)
  const seconds = (performance.now() - started) / 1000
  await until(async () => (await management('GET', path)).status === 404)
  if ((await depth(ch, DLQ)) !== 0) throw new Error('shovel: the DLQ is not empty')
  return n / seconds
}

export async function main(args: string[]): Promise<void> {
  const n = list(args, 'messages', [50_000])[0]
  const rounds = list(args, 'rounds', [3])[0]
  const prefetches = list(args, 'raw-prefetch', [200, 1000, 2000])
  const cliExtra = args.includes('--cli-args') ? String(args[args.indexOf('--cli-args') + 1]).split(' ').filter(Boolean) : []
  const vhost = await createTestVhost(BENCH_PREFIX)
  const [db, redis] = await Promise.all([createTestDatabase(BENCH_PREFIX), createTestRedis(BENCH_PREFIX)])
  const conn = await amqp.connect(vhost.amqpUrl)
  const split = args.includes('--raw-split') ? await amqp.connect(vhost.amqpUrl) : undefined
  const ch = await conn.createChannel()
  const out = (line: string) => process.stdout.write(`${line}\n`)
  try {
    await ch.assertExchange(EXCHANGE, 'topic')
    await ch.assertExchange(`${EXCHANGE}.dlx`, 'fanout')
    await ch.assertQueue(QUEUE, {arguments: {'x-dead-letter-exchange': `${EXCHANGE}.dlx`}})
    await ch.bindQueue(QUEUE, EXCHANGE, 'order.*')
    await ch.assertQueue(DLQ)
    await ch.bindQueue(DLQ, `${EXCHANGE}.dlx`, '')
    const body = Buffer.from(JSON.stringify({orderId: 0, status: 'created', amount: '19.99', items: [{sku: 'A-1', qty: 2}]}))
    const moved = async (what: string, count: number) => {
      if (count !== n) throw new Error(`${what} moved ${count} of ${n}`)
      await until(async () => (await depth(ch, QUEUE)) === n)
    }
    let cliLoop: number[] = []
    const coreCpu: number[] = []
    // --profile FILE: a CPU profile (.cpuprofile) of the first in-process replay (--core) alone.
    let profileTo = args.includes('--profile') ? String(args[args.indexOf('--profile') + 1]) : undefined
    const cases: Case[] = [
      {name: 'RabbitMQ shovel (on-confirm)', anchor: true, run: () => shovel(vhost.name, ch, n)},
      ...prefetches.map((prefetch): Case => ({name: `raw amqplib loop, prefetch ${prefetch}`, run: () => rawLoop(conn, n, prefetch)})),
      // --raw-split: the same loop publishing on a second connection (the broker's work for each connection is its own processes).
      ...(split ? prefetches.map((prefetch): Case => ({name: `raw amqplib loop, prefetch ${prefetch}, publishing on a 2nd connection`, run: () => rawLoop(conn, n, prefetch, split)})) : []),
      {
        name: `msgops dlq replay (CLI, end to end${cliExtra.length ? ` ${cliExtra.join(' ')}` : ', defaults'})`,
        async run() {
          const res = await runCli(['dlq', 'replay', DLQ, '--yes', '--json', ...cliExtra], {env: cliEnv({db, vhost, redis}), timeoutMs: 600_000})
          if (res.stderr.trim() !== '') process.stderr.write(`dlq replay stderr: ${res.stderr}`)
          if (res.code !== 0) throw new Error(`dlq replay exited ${res.code}: ${res.stderr}`)
          const report = JSON.parse(res.stdout) as {moved: number; elapsedMs: number}
          await moved('dlq replay', report.moved)
          cliLoop = [...cliLoop, report.moved / (report.elapsedMs / 1000)]
          return report.moved / (res.ms / 1000)
        },
      },
    ]
    const corePrefetches = args.includes('--core') ? [DEFAULT_PREFETCH, ...list(args, 'core-prefetch', []).filter((p) => p !== DEFAULT_PREFETCH)] : []
    for (const prefetch of corePrefetches)
      cases.push({
        name: `msgops replay (core, in process, ${prefetch === DEFAULT_PREFETCH ? 'defaults' : `prefetch ${prefetch}`})`,
        async run() {
          const adapter = await AmqpAdapter.connect(vhost.amqpUrl, 5000)
          const publisher = new ConfirmPublisher(adapter)
          const used = process.cpuUsage()
          const started = performance.now()
          const report = await profiled(profileTo, () => replayDeadLetters(
            {queues: new AmqpDeadLetterQueues(adapter), publisher},
            {queue: DLQ, filters: {}, maxReplays: DEFAULT_MAX_REPLAYS, dryRun: false, prefetch, errorHeaders: DEFAULT_ERROR_HEADERS, idleMs: 2000},
          ))
          const rate = report.moved / ((performance.now() - started) / 1000)
          coreCpu.push(cpuMsOf(process.cpuUsage(used)) / (report.moved / 1000))
          if (profileTo) out(`  CPU profile of this replay (replayDeadLetters only): ${profileTo}`)
          profileTo = undefined
          await publisher.close()
          await adapter.close()
          await moved('msgops core', report.moved)
          return rate
        },
      })
    for (const c of cases.slice(0, 1 + prefetches.length * (split ? 2 : 1))) {
      const run = c.run
      c.run = async () => {
        const rate = await run()
        await until(async () => (await depth(ch, QUEUE)) === n)
        return rate
      }
    }

    const before = load()
    await makeDeadLetters(conn, ch, n, body)
    const {rates, loads} = await alternate(cases, rounds, () => makeDeadLetters(conn, ch, n, body), out)
    // The best raw loop is the second anchor: the client loop at its best prefetch.
    const rawMedians = prefetches.map((_, i) => median(rates[1 + i]))
    const best = 1 + rawMedians.indexOf(Math.max(...rawMedians))
    cases[best].anchor = true
    out('')
    out(`replay: ${n.toLocaleString('en-US')} dead letters per case per round (x-death from a reject), payload ${body.length} bytes (JSON), classic queues; ${rounds} rounds in alternating order`)
    out(`load average (1, 5, 15 min) before the run ${before}, before each round ${loads.join(' | ')}, after ${load()}`)
    out(table(cases, rates))
    out(`msgops dlq replay, its own loop (elapsedMs, without process start): median ${Math.round(median(cliLoop)).toLocaleString('en-US')} msg/s (${cliLoop.map((r) => Math.round(r).toLocaleString('en-US')).join(', ')})`)
    if (coreCpu.length > 0) out(`client CPU of the in-process replays, per 1,000 messages: ${coreCpu.map((ms) => `${ms.toFixed(1)} ms`).join(', ')}`)
    out(`peak RSS of this process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`)
  } finally {
    await conn.close().catch(() => {})
    await split?.close().catch(() => {})
    await Promise.all([vhost.drop(), db.drop(), redis.cleanup()])
  }
}
