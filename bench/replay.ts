/**
 * `npm run bench -- replay [--messages 50000] [--prefetch 200]`
 * Moves N genuine dead letters (rejected by a consumer of order_queue) back to order_exchange three ways, in one run:
 *  1. raw: an amqplib loop, consume (same prefetch, manual ack) → confirmed publish → ack on the confirm;
 *  2. msgops core: replayDeadLetters over the real adapters, in this process;
 *  3. the CLI: `msgops dlq replay --yes --json` as a user runs it (process start, lock, audit included; needs dist/).
 * Prints each rate and its ratio against the raw loop (target ≥ 0.8). The machine is shared, so raw and core
 * alternate for --rounds rounds (raw, core, CLI) and the best of each is compared; CPU time of this process per message is shown too.
 */
import amqp, {type Channel, type ChannelModel} from 'amqplib'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {AmqpDeadLetterQueues} from '../src/adapters/dlq.js'
import {ConfirmPublisher} from '../src/adapters/publisher.js'
import {DEFAULT_ERROR_HEADERS} from '../src/config/defaults.js'
import {replayDeadLetters} from '../src/core/dlq/replay.js'
import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, runCli} from '../test/helpers/env.js'

const EXCHANGE = 'order_exchange'
const QUEUE = 'order_queue'
const DLQ = 'order_queue.dlq'

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`)
  const value = at >= 0 ? Number(args[at + 1]) : fallback
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`)
  return value
}

async function depth(ch: Channel, queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 100))
}

/** Everything in order_queue is rejected without requeue, so it lands in the DLQ with a real x-death. */
async function deadLetterAll(conn: ChannelModel, ch: Channel, n: number): Promise<void> {
  const consumer = await conn.createChannel()
  await consumer.prefetch(1000)
  await consumer.consume(QUEUE, (msg) => msg && consumer.nack(msg, false, false))
  await until(async () => (await depth(ch, DLQ)) === n)
  await consumer.close()
}

async function rawLoop(conn: ChannelModel, n: number, prefetch: number): Promise<number> {
  const consume = await conn.createChannel()
  const publish = await conn.createConfirmChannel()
  await consume.prefetch(prefetch)
  const started = performance.now()
  let done = 0
  await new Promise<void>((resolve, reject) => {
    publish.on('return', () => reject(new Error('raw loop: a message was returned')))
    void consume.consume(DLQ, (msg) => {
      if (!msg) return
      const first = (msg.properties.headers?.['x-death'] as {exchange: string; 'routing-keys': string[]}[]).at(-1)!
      publish.publish(first.exchange, first['routing-keys'][0], msg.content, {...msg.properties, mandatory: true, persistent: true}, (error: unknown) => {
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

function cpuPerMessage(since: NodeJS.CpuUsage, n: number): number {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / n
}

export async function main(args: string[]): Promise<void> {
  const n = option(args, 'messages', 50_000)
  const prefetch = option(args, 'prefetch', 200)
  const rounds = option(args, 'rounds', 2)
  const vhost = await createTestVhost('msgops_bench')
  const [db, redis] = await Promise.all([createTestDatabase('msgops_bench'), createTestRedis('msgops_bench')])
  const conn = await amqp.connect(vhost.amqpUrl)
  const ch = await conn.createChannel()
  try {
    await ch.assertExchange(EXCHANGE, 'topic')
    await ch.assertExchange(`${EXCHANGE}.dlx`, 'fanout')
    await ch.assertQueue(QUEUE, {arguments: {'x-dead-letter-exchange': `${EXCHANGE}.dlx`}})
    await ch.bindQueue(QUEUE, EXCHANGE, 'order.*')
    await ch.assertQueue(DLQ)
    await ch.bindQueue(DLQ, `${EXCHANGE}.dlx`, '')
    const body = Buffer.from(JSON.stringify({orderId: 0, status: 'created', amount: '19.99', items: [{sku: 'A-1', qty: 2}]}))
    for (let i = 0; i < n; i++) {
      if (!ch.publish(EXCHANGE, 'order.created', body, {messageId: `bench-${i}`, contentType: 'application/json', persistent: true}))
        await new Promise((r) => ch.once('drain', r))
    }
    await until(async () => (await depth(ch, QUEUE)) === n)
    await deadLetterAll(conn, ch, n)
    process.stdout.write(`${n} dead letters, prefetch ${prefetch}\n`)

    let raw = 0
    let core = 0
    let cli = 0
    let cliLoop = 0
    let rawCpu = Infinity
    let coreCpu = Infinity
    for (let round = 0; round < rounds; round++) {
      let cpu = process.cpuUsage()
      raw = Math.max(raw, await rawLoop(conn, n, prefetch))
      rawCpu = Math.min(rawCpu, cpuPerMessage(cpu, n))
      await until(async () => (await depth(ch, QUEUE)) === n)
      await deadLetterAll(conn, ch, n)

      const adapter = await AmqpAdapter.connect(vhost.amqpUrl, 5000)
      const publisher = new ConfirmPublisher(adapter)
      cpu = process.cpuUsage()
      const started = performance.now()
      const report = await replayDeadLetters(
        {queues: new AmqpDeadLetterQueues(adapter), publisher},
        {queue: DLQ, filters: {}, maxReplays: 5, dryRun: false, prefetch, errorHeaders: DEFAULT_ERROR_HEADERS, idleMs: 2000},
      )
      core = Math.max(core, report.moved / ((performance.now() - started) / 1000))
      coreCpu = Math.min(coreCpu, cpuPerMessage(cpu, n))
      await publisher.close()
      await adapter.close()
      if (report.moved !== n) throw new Error(`msgops core moved ${report.moved} of ${n}`)
      await until(async () => (await depth(ch, QUEUE)) === n)
      await deadLetterAll(conn, ch, n)

      const res = await runCli(['dlq', 'replay', DLQ, '--yes', '--json', '--prefetch', String(prefetch)], {env: cliEnv({db, vhost, redis}), timeoutMs: 600_000})
      if (res.stderr.trim() !== '') process.stderr.write(`dlq replay stderr: ${res.stderr}`)
      if (res.code !== 0) throw new Error(`dlq replay exited ${res.code}: ${res.stderr}`)
      const cliReport = JSON.parse(res.stdout) as {moved: number; elapsedMs: number}
      if (cliReport.moved !== n) throw new Error(`dlq replay moved ${cliReport.moved} of ${n}`)
      cli = Math.max(cli, cliReport.moved / (res.ms / 1000))
      cliLoop = Math.max(cliLoop, cliReport.moved / (cliReport.elapsedMs / 1000))
      await until(async () => (await depth(ch, QUEUE)) === n)
      await deadLetterAll(conn, ch, n)
    }

    const line = (name: string, rate: number) => `${name.padEnd(34)} ${Math.round(rate).toString().padStart(8)} msg/s   ratio ${(rate / raw).toFixed(2)}\n`
    process.stdout.write(line('raw amqplib consume→confirm→ack', raw))
    process.stdout.write(line('msgops replay (core, in process)', core))
    process.stdout.write(line('msgops dlq replay (CLI, its loop)', cliLoop))
    process.stdout.write(line('msgops dlq replay (CLI, end to end)', cli))
    process.stdout.write(`CPU of this process per message: raw ${rawCpu.toFixed(0)} µs, msgops core ${coreCpu.toFixed(0)} µs (best of ${rounds} rounds)\n`)
    process.stdout.write(`peak RSS of this process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB\n`)
  } finally {
    await conn.close().catch(() => {})
    await Promise.all([vhost.drop(), db.drop(), redis.cleanup()])
  }
}
