/**
 * `npm run bench -- drain [--rows 100000] [--batch 500] [--window 1000] [--in-flight 3] [--trace]`
 * Fills an outbox with pending rows, then measures in the same run:
 *  - raw: confirmed persistent mandatory publishes of the same payloads with amqplib, a sliding window of confirms,
 *    once with bare properties and once with the drain's own (the ratio's reference: the same messages);
 *  - drain: drainOutbox() over the table (select … for update skip locked, publish, confirms, update, commit).
 * Prints the rates, the ratio (target ≥ 0.8), peak RSS, the EXPLAIN of the batch queries; --trace adds time per step.
 */
import {loadavg} from 'node:os'
import amqp from 'amqplib'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {MysqlAdapter} from '../src/adapters/mysql.js'
import {ConfirmPublisher} from '../src/adapters/publisher.js'
import {DEFAULTS} from '../src/config/defaults.js'
import type {Config} from '../src/config/schema.js'
import {DEFAULT_PIPELINE, drainOutbox, toMessage} from '../src/core/outbox/drain.js'
import type {OutboxRow} from '../src/core/outbox/repository.js'
import {outboxStatus} from '../src/core/outbox/status.js'
import {resolveOutbox} from '../src/core/outbox/table.js'
import {initSchema} from '../src/core/schema.js'
import {createTestDatabase, createTestVhost} from '../test/helpers/env.js'
import {report, traceSql, tracePublisher} from './_spans.js'

export function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  const value = Number(args[i + 1])
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a positive integer`)
  return value
}

const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000
const mb = (kb: number) => `${Math.round(kb / 1024)} MB`

function payload(i: number): string {
  return JSON.stringify({orderId: `o-${i}`, customerId: `c-${i % 977}`, amount: (i % 10_000) / 100, currency: 'EUR', items: [{sku: `sku-${i % 131}`, qty: 1 + (i % 3)}], createdAt: '2026-01-01T00:00:00.000Z'})
}

/** The id of the bench's row n. */
const rowId = (n: number) => `m-${String(n).padStart(9, '0')}`

/** An outbox row as the bench fills it, for building the drain's own message without reading the table. */
function syntheticRow(n: number): OutboxRow {
  return {id: rowId(n), status: 'pending', payload: payload(n), headers: null, aggregateType: null, aggregateId: null, eventType: 'order.created', exchange: 'bench.x',
    routingKey: 'order.created', attempts: 0, lastError: null, createdAt: null, availableAt: null, sentAt: null, ageMs: 0}
}

/** Confirmed, persistent, mandatory publishes with at most `window` unconfirmed; bodies are the bench's payloads. */
async function rawPublish(broker: amqp.ChannelModel, rows: number, window: number, properties: (n: number) => amqp.Options.Publish): Promise<{seconds: number; cpuMs: number}> {
  const bodies = Array.from({length: Math.min(rows, 10_000)}, (_, i) => Buffer.from(payload(i)))
  const channel = await broker.createConfirmChannel()
  const cpu = process.cpuUsage()
  const start = performance.now()
  await new Promise<void>((resolve, reject) => {
    let sent = 0
    let confirmed = 0
    let inFlight = 0
    const pump = () => {
      while (inFlight < window && sent < rows) {
        const n = sent++
        inFlight++
        channel.publish('bench.x', 'order.created', bodies[n % bodies.length], {...properties(n), persistent: true, mandatory: true}, (error) => {
          if (error) return reject(error)
          inFlight--
          if (++confirmed === rows) resolve()
          else pump()
        })
      }
    }
    pump()
  })
  const seconds = (performance.now() - start) / 1000
  const cpuMs = cpuMsOf(process.cpuUsage(cpu))
  await channel.close()
  return {seconds, cpuMs}
}

export async function main(args: string[]): Promise<void> {
  const rows = option(args, 'rows', 100_000)
  const batch = option(args, 'batch', 500)
  const window = option(args, 'window', 1000)
  const pipeline = option(args, 'in-flight', DEFAULT_PIPELINE)
  const db = await createTestDatabase('msgops_bench')
  const vhost = await createTestVhost('msgops_bench')
  const config: Config = {...structuredClone(DEFAULTS), mysql: {url: db.url}, amqp: {url: vhost.amqpUrl}}
  const sql = await MysqlAdapter.connect(db.url, 10_000, Math.max(4, pipeline + 1))
  const broker = await amqp.connect(vhost.amqpUrl)
  try {
    const setup = await broker.createChannel()
    await setup.assertExchange('bench.x', 'topic', {durable: true})
    await setup.assertQueue('bench.q', {durable: true})
    await setup.bindQueue('bench.q', 'bench.x', '#')

    await initSchema(sql, config)
    process.stdout.write(`filling ${rows.toLocaleString('en-US')} pending rows… `)
    const fillStart = Date.now()
    for (let i = 0; i < rows; i += 2000) {
      const chunk = Array.from({length: Math.min(2000, rows - i)}, (_, k) => {
        const n = i + k
        return [rowId(n), 'order.created', 'bench.x', 'order.created', payload(n)]
      })
      await sql.execute('INSERT INTO outbox (id, event_type, exchange, routing_key, payload, created_at) VALUES ?', [chunk.map((r) => [...r, new Date(Date.now() - 3_600_000)])])
    }
    await sql.execute('ANALYZE TABLE outbox')
    process.stdout.write(`${((Date.now() - fillStart) / 1000).toFixed(1)} s\n`)

    const filter = "`status` = 'pending' AND `created_at` <= NOW(3) - INTERVAL 30 SECOND AND (`available_at` IS NULL OR `available_at` <= NOW(3))"
    const explain = async (label: string, query: string) => {
      const plan = await sql.query<Record<string, unknown>>(`EXPLAIN ${query}`)
      for (const p of plan) process.stdout.write(`  ${label}: type=${p.type} key=${p.key} rows=${p.rows} extra=${p.Extra}\n`)
    }
    process.stdout.write(`EXPLAIN at ${rows.toLocaleString('en-US')} pending rows:\n`)
    await explain('candidates, first batch', `SELECT id FROM outbox WHERE ${filter} ORDER BY id LIMIT ${batch}`)
    await explain('candidates, next batch ', `SELECT id FROM outbox WHERE ${filter} AND id > 'm-000050000' ORDER BY id LIMIT ${batch}`)
    await explain('lock by primary key    ', `SELECT id FROM outbox FORCE INDEX (PRIMARY) WHERE ${filter} AND id IN ('m-000000001','m-000000002') ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED`)
    await explain('one-step locking read  ', `SELECT id FROM outbox WHERE ${filter} ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED`)

    // Raw limit: the same payloads, persistent and mandatory, a sliding window of unconfirmed publishes, twice:
    // bare (message id and content type only) and with the very properties the drain sends (toMessage of a row).
    const table = await resolveOutbox(sql, config)
    const bare = (n: number): amqp.Options.Publish => ({messageId: `raw-${n}`, contentType: 'application/json'})
    const template = toMessage(syntheticRow(0), table, new Date().toISOString())
    if ('invalid' in template) throw new Error(template.invalid)
    // The drain's properties (messageId, contentType, type, timestamp, the x-msgops-drained-at header) with this message's id.
    const same = (n: number): amqp.Options.Publish => ({...template.properties, messageId: rowId(n), headers: {...template.properties.headers}})
    const rawBare = await rawPublish(broker, rows, window, bare)
    await setup.purgeQueue('bench.q')
    const rawSame = await rawPublish(broker, rows, window, same)
    await setup.purgeQueue('bench.q')
    const rawRss = process.resourceUsage().maxRSS

    const amqpAdapter = await AmqpAdapter.connect(vhost.amqpUrl, 10_000)
    const publisher = new ConfirmPublisher(amqpAdapter)
    const drainCpu = process.cpuUsage()
    const drainStart = performance.now()
    const trace = args.includes('--trace')
    const result = await drainOutbox(trace ? {sql: traceSql(sql), publisher: tracePublisher(publisher)} : {sql, publisher}, {config, batchSize: batch, pipeline})
    const drainSeconds = (performance.now() - drainStart) / 1000
    const drainCpuMs = cpuMsOf(process.cpuUsage(drainCpu))
    if (trace) process.stdout.write(report(drainSeconds * 1000) + '\n')
    await publisher.close()
    await amqpAdapter.close()
    const {messageCount} = await setup.checkQueue('bench.q')
    await setup.purgeQueue('bench.q')

    const statusStart = performance.now()
    await outboxStatus(sql, {config})
    const statusMs = performance.now() - statusStart

    const drain = result.published / drainSeconds
    const raw = rows / rawSame.seconds
    const rate = (seconds: number) => `${Math.round(rows / seconds).toLocaleString('en-US')} msg/s  (${seconds.toFixed(2)} s)`
    process.stdout.write(`raw amqplib, bare properties (window ${window}):      ${rate(rawBare.seconds)}\n`)
    process.stdout.write(`raw amqplib, the drain's properties (window ${window}): ${rate(rawSame.seconds)}\n`)
    process.stdout.write(`outbox drain (batch ${batch}, in flight ${pipeline}): ${Math.round(drain).toLocaleString('en-US')} msg/s  (${drainSeconds.toFixed(2)} s, ${result.published.toLocaleString('en-US')} published, ${result.batches} batches, ${messageCount} in the queue)\n`)
    process.stdout.write(`ratio drain/raw (the same messages): ${(drain / raw).toFixed(2)} (target >= 0.80); against bare publishes: ${(drain / (rows / rawBare.seconds)).toFixed(2)}\n`)
    process.stdout.write(`client CPU per 1000 messages: raw ${(rawSame.cpuMs / (rows / 1000)).toFixed(0)} ms, drain ${(drainCpuMs / (result.published / 1000)).toFixed(0)} ms; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`)
    process.stdout.write(`peak RSS: ${mb(rawRss)} after the raw run, ${mb(process.resourceUsage().maxRSS)} after the drain\n`)
    process.stdout.write(`outbox status over ${rows.toLocaleString('en-US')} sent rows: ${Math.round(statusMs)} ms\n`)
    if (result.published !== rows || messageCount !== rows) process.stdout.write(`WARNING: expected ${rows} published and queued\n`)
  } finally {
    await broker.close().catch(() => {})
    await sql.close()
    await db.drop()
    await vhost.drop()
  }
}
