/**
 * `npm run bench -- drain [--rows 100000] [--rounds 3] [--batch 500[,1000]] [--in-flight 3[,4,6]] [--window 1000]
 *                          [--properties] [--mark-drained] [--trace] [--profile FILE]`
 * Fills an outbox with pending rows, then measures in the same run, in alternating order over --rounds rounds:
 *  - the anchor: bare confirmed publishes (persistent, mandatory, a message id and nothing else) of the same payloads
 *    with amqplib, a sliding window of --window unconfirmed;
 *  - the same publishes with exactly the properties the drain sends (toMessage of a row), and with --properties each
 *    property the drain sets or once set on its own (contentType, type, timestamp, the x-msgops-drained-at header);
 *  - drainOutbox() over the table at its defaults, and at each other --batch × --in-flight given; --mark-drained adds
 *    the drain with outbox.markDrained.
 * Prints one table (medians, every round, ratios to bare publishes) with the payload size, the row count and the load.
 */
import {writeFile} from 'node:fs/promises'
import {Session} from 'node:inspector/promises'

import amqp from 'amqplib'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {MysqlAdapter} from '../src/adapters/mysql.js'
import {ConfirmPublisher} from '../src/adapters/publisher.js'
import {DEFAULTS} from '../src/config/defaults.js'
import type {Config} from '../src/config/schema.js'
import {DEFAULT_BATCH_SIZE, DEFAULT_PIPELINE, DRAINED_AT_HEADER, drainOutbox, openTransactions, toMessage} from '../src/core/outbox/drain.js'
import type {OutboxRow} from '../src/core/outbox/repository.js'
import {outboxStatus} from '../src/core/outbox/status.js'
import {resolveOutbox} from '../src/core/outbox/table.js'
import {initSchema} from '../src/core/schema.js'
import {createTestDatabase, createTestVhost} from '../test/helpers/env.js'
import {alternate, BENCH_PREFIX, type Case, load, median, table} from './_rounds.js'
import {report, traceSql, tracePublisher} from './_spans.js'

export function option(args: string[], name: string, fallback: number): number {
  return list(args, name, [fallback])[0]
}

/** A flag holding one positive integer or several separated by commas. */
function list(args: string[], name: string, fallback: number[]): number[] {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  const values = String(args[i + 1]).split(',').map(Number)
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`--${name} needs positive integers (separated by commas)`)
  return values
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

/** Confirmed, persistent, mandatory publishes with at most `window` unconfirmed; bodies are the rows' payloads. */
async function rawPublish(broker: amqp.ChannelModel, bodies: Buffer[], window: number, properties: (n: number) => amqp.Options.Publish): Promise<{seconds: number; cpuMs: number}> {
  const rows = bodies.length
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
        channel.publish('bench.x', 'order.created', bodies[n], {...properties(n), persistent: true, mandatory: true}, (error) => {
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
  const rounds = option(args, 'rounds', 3)
  const window = option(args, 'window', 1000)
  const batches = list(args, 'batch', [DEFAULT_BATCH_SIZE])
  const depths = list(args, 'in-flight', [DEFAULT_PIPELINE])
  const trace = args.includes('--trace')
  // --profile FILE: a CPU profile (.cpuprofile, for Chrome DevTools) of the first drain only, fill and publishes left out.
  let profileTo = args.includes('--profile') ? String(args[args.indexOf('--profile') + 1]) : undefined
  const db = await createTestDatabase(BENCH_PREFIX)
  const vhost = await createTestVhost(BENCH_PREFIX)
  const config: Config = {...structuredClone(DEFAULTS), mysql: {url: db.url}, amqp: {url: vhost.amqpUrl}}
  const sql = await MysqlAdapter.connect(db.url, 10_000, openTransactions(Math.max(...depths)) + 1)
  const broker = await amqp.connect(vhost.amqpUrl)
  const out = (line: string) => process.stdout.write(`${line}\n`)
  try {
    const setup = await broker.createChannel()
    await setup.assertExchange('bench.x', 'topic', {durable: true})
    await setup.assertQueue('bench.q', {durable: true})
    await setup.bindQueue('bench.q', 'bench.x', '#')

    await initSchema(sql, config)
    const fill = async () => {
      await sql.execute('TRUNCATE TABLE outbox')
      for (let i = 0; i < rows; i += 2000) {
        const chunk = Array.from({length: Math.min(2000, rows - i)}, (_, k) => {
          const n = i + k
          return [rowId(n), 'order.created', 'bench.x', 'order.created', payload(n)]
        })
        await sql.execute('INSERT INTO outbox (id, event_type, exchange, routing_key, payload, created_at) VALUES ?', [chunk.map((r) => [...r, new Date(Date.now() - 3_600_000)])])
      }
      await sql.execute('ANALYZE TABLE outbox')
    }
    process.stdout.write(`filling ${rows.toLocaleString('en-US')} pending rows… `)
    const fillStart = Date.now()
    await fill()
    out(`${((Date.now() - fillStart) / 1000).toFixed(1)} s`)

    const filter = "`status` = 'pending' AND `created_at` <= NOW(3) - INTERVAL 30 SECOND AND (`available_at` IS NULL OR `available_at` <= NOW(3))"
    const explain = async (label: string, query: string) => {
      const plan = await sql.query<Record<string, unknown>>(`EXPLAIN ${query}`)
      for (const p of plan) out(`  ${label}: type=${p.type} key=${p.key} rows=${p.rows} extra=${p.Extra}`)
    }
    const batch = batches[0]
    out(`EXPLAIN at ${rows.toLocaleString('en-US')} pending rows:`)
    await explain('candidates, first batch', `SELECT id FROM outbox WHERE ${filter} ORDER BY id LIMIT ${batch}`)
    await explain('candidates, next batch ', `SELECT id FROM outbox WHERE ${filter} AND id > 'm-000050000' ORDER BY id LIMIT ${batch}`)
    await explain('lock by primary key    ', `SELECT id FROM outbox FORCE INDEX (PRIMARY) WHERE ${filter} AND id IN ('m-000000001','m-000000002') ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED`)

    // The same payloads the rows hold, so that raw publishes and the drain move the same bytes.
    const bodies = Array.from({length: rows}, (_, n) => Buffer.from(payload(n)))
    const payloadBytes = Math.round(bodies.reduce((sum, b) => sum + b.length, 0) / rows)
    const outbox = await resolveOutbox(sql, config)
    const drainMessage = toMessage(syntheticRow(0), outbox)
    if ('invalid' in drainMessage) throw new Error(drainMessage.invalid)
    const cpu = new Map<string, number[]>()
    const keepCpu = (name: string, ms: number, n: number) => cpu.set(name, [...(cpu.get(name) ?? []), ms / (n / 1000)])
    const raw = (name: string, properties: (n: number) => amqp.Options.Publish, anchor = false): Case => ({
      name, anchor,
      async run() {
        const r = await rawPublish(broker, bodies, window, properties)
        keepCpu(name, r.cpuMs, rows)
        return rows / r.seconds
      },
    })
    const bare = (n: number): amqp.Options.Publish => ({messageId: rowId(n)})
    const stamp = new Date().toISOString()
    const cases: Case[] = [
      raw(`bare publishes (window ${window})`, bare, true),
      // Exactly what the drain sends (messageId, contentType, type; no header) with this message's id.
      raw("publishes with the drain's properties", (n) => ({...drainMessage.properties, messageId: rowId(n)})),
    ]
    if (args.includes('--properties')) {
      cases.push(
        raw('bare + contentType', (n) => ({messageId: rowId(n), contentType: 'application/json'})),
        raw('bare + type', (n) => ({messageId: rowId(n), type: 'order.created'})),
        raw('bare + timestamp', (n) => ({messageId: rowId(n), timestamp: Math.floor(Date.now() / 1000)})),
        raw(`bare + ${DRAINED_AT_HEADER} header`, (n) => ({messageId: rowId(n), headers: {[DRAINED_AT_HEADER]: stamp}})),
        raw('bare + all four (the drain until 2026-12)', (n) => ({messageId: rowId(n), contentType: 'application/json', type: 'order.created', timestamp: Math.floor(Date.now() / 1000), headers: {[DRAINED_AT_HEADER]: stamp}})),
      )
    }
    const drainCase = (batchSize: number, pipeline: number, markDrained: boolean): Case => {
      const name = `msgops drain (batch ${batchSize}, in flight ${pipeline}${markDrained ? ', --mark-drained' : ''})${batchSize === DEFAULT_BATCH_SIZE && pipeline === DEFAULT_PIPELINE && !markDrained ? ' = defaults' : ''}`
      return {
        name,
        async run() {
          const amqpAdapter = await AmqpAdapter.connect(vhost.amqpUrl, 10_000)
          const publisher = new ConfirmPublisher(amqpAdapter)
          const profiler = profileTo ? new Session() : undefined
          if (profiler) {
            profiler.connect()
            await profiler.post('Profiler.enable')
            await profiler.post('Profiler.start')
          }
          const used = process.cpuUsage()
          const started = performance.now()
          const result = await drainOutbox(trace ? {sql: traceSql(sql), publisher: tracePublisher(publisher)} : {sql, publisher}, {config, batchSize, pipeline, markDrained})
          const seconds = (performance.now() - started) / 1000
          if (profiler && profileTo) {
            const {profile} = await profiler.post('Profiler.stop')
            await writeFile(profileTo, JSON.stringify(profile))
            profiler.disconnect()
            out(`  CPU profile of this drain (drainOutbox only): ${profileTo}`)
            profileTo = undefined
          }
          keepCpu(name, cpuMsOf(process.cpuUsage(used)), result.published)
          if (trace) out(report(seconds * 1000))
          await publisher.close()
          await amqpAdapter.close()
          const {messageCount} = await setup.checkQueue('bench.q')
          if (result.published !== rows || messageCount !== rows) throw new Error(`drain: ${result.published} published, ${messageCount} queued, expected ${rows}`)
          // A fresh table for the next drain (not timed): resetting the rows by UPDATE left the next drain reading
          // old row versions while InnoDB purged them (slower by a third in the same run).
          await fill()
          return result.published / seconds
        },
      }
    }
    for (const b of batches) for (const d of depths) cases.push(drainCase(b, d, false))
    if (!batches.includes(DEFAULT_BATCH_SIZE) || !depths.includes(DEFAULT_PIPELINE)) cases.push(drainCase(DEFAULT_BATCH_SIZE, DEFAULT_PIPELINE, false))
    if (args.includes('--mark-drained')) cases.push(drainCase(DEFAULT_BATCH_SIZE, DEFAULT_PIPELINE, true))

    const before = load()
    const {rates, loads} = await alternate(cases, rounds, async () => void (await setup.purgeQueue('bench.q')), out)
    out('')
    out(`drain: ${rows.toLocaleString('en-US')} messages per case per round, payload ${payloadBytes} bytes (JSON), persistent, mandatory, one durable queue; ${rounds} rounds in alternating order`)
    out(`load average (1, 5, 15 min) before the run ${before}, before each round ${loads.join(' | ')}, after ${load()}`)
    out(table(cases, rates))
    out(`client CPU per 1000 messages (median): ${cases.map((c) => `${c.name} ${Math.round(median(cpu.get(c.name) ?? [0]))} ms`).join('; ')}`)
    out(`peak RSS: ${mb(process.resourceUsage().maxRSS)}`)
    const statusStart = performance.now()
    await outboxStatus(sql, {config})
    out(`outbox status over ${rows.toLocaleString('en-US')} rows: ${Math.round(performance.now() - statusStart)} ms`)
  } finally {
    await broker.close().catch(() => {})
    await sql.close()
    await db.drop()
    await vhost.drop()
  }
}
