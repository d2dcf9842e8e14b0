import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {ConsumeMessage} from 'amqplib'
import type mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {AmqpAdapter} from '../../src/adapters/amqp.js'
import {MysqlAdapter} from '../../src/adapters/mysql.js'
import {ConfirmPublisher} from '../../src/adapters/publisher.js'
import {loadConfig} from '../../src/config/load.js'
import type {Config} from '../../src/config/schema.js'
import {OperationError} from '../../src/core/errors.js'
import {drainOutbox, type DrainPlan} from '../../src/core/outbox/drain.js'
import type {Clock} from '../../src/core/time.js'
import type {OutgoingMessage, PublishOutcome, PublisherPort} from '../../src/core/ports.js'
import {listOutbox, showOutbox} from '../../src/core/outbox/list.js'
import {requeueOutbox} from '../../src/core/outbox/requeue.js'
import {outboxStatus, statusAlerts} from '../../src/core/outbox/status.js'
import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'

/** The outbox as a test sees it, whatever its mapping: insert rows, read their state back, point the CLI at an exchange. */
interface Variant {
  name: string
  setup(conn: mysql.Connection, env: Record<string, string>): Promise<void>
  insert(conn: mysql.Connection, rows: {id: string; ageSec: number; exchange: string; attempts?: number; status?: 'pending' | 'dead'; eventType?: string}[]): Promise<void>
  read(conn: mysql.Connection): Promise<Map<string, {status: string; attempts: number; sentAt: unknown; lastError: string | null}>>
  /** CLI arguments that make the rows go to this exchange. */
  args(exchange: string): string[]
  clear(conn: mysql.Connection): Promise<void>
}

const ROUTING_KEY = 'order.created'
const world = useOutboxWorld('msgops-outbox-', async (channel) => {
  await channel.assertExchange('unbound.x', 'topic', {durable: true})
  // A queue that is always full and refuses publishes: the broker nacks them.
  await channel.assertExchange('full.x', 'topic', {durable: true})
  await channel.assertQueue('full.q', {durable: true, arguments: {'x-max-length': 0, 'x-overflow': 'reject-publish'}})
  await channel.bindQueue('full.q', 'full.x', '#')
})
const {tempDir} = world

const reference: Variant = {
  name: 'reference schema',
  setup: initReferenceSchema,
  async insert(conn, rows) {
    for (const r of rows)
      await conn.query(
        'INSERT INTO outbox (id, event_type, exchange, routing_key, payload, headers, status, attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NOW(3) - INTERVAL ? SECOND)',
        [r.id, r.eventType ?? 'order.created', r.exchange, ROUTING_KEY, JSON.stringify({orderId: r.id, amount: 12.5}), JSON.stringify({'x-tenant': 't1'}), r.status === 'dead' ? 'dead_letter' : 'pending', r.attempts ?? 0, r.ageSec],
      )
  },
  async read(conn) {
    const [rows] = await conn.query('SELECT id, status, attempts, sent_at, last_error FROM outbox')
    const names: Record<string, string> = {pending: 'pending', sent: 'sent', dead_letter: 'dead'}
    return new Map((rows as {id: string; status: string; attempts: number; sent_at: unknown; last_error: string | null}[]).map((r) => [r.id, {status: names[r.status], attempts: r.attempts, sentAt: r.sent_at, lastError: r.last_error}]))
  },
  args: () => [],
  async clear(conn) {
    await conn.query('DELETE FROM outbox')
  },
}

const integer: Variant = {
  name: 'integer-status mapping',
  async setup(conn) {
    // A team's own table: integer statuses, other column names, no exchange/routing key/last error columns, payload in TEXT.
    await conn.query(`CREATE TABLE order_mq_tab (
      messageId VARCHAR(64) NOT NULL PRIMARY KEY, messageContent TEXT NOT NULL, messageStatus INT NOT NULL DEFAULT 1,
      retryCount INT NOT NULL DEFAULT 0, addTime DATETIME(3) NOT NULL, KEY idx_status_time (messageStatus, addTime))`)
  },
  async insert(conn, rows) {
    for (const r of rows)
      await conn.query('INSERT INTO order_mq_tab (messageId, messageContent, messageStatus, retryCount, addTime) VALUES (?, ?, ?, ?, NOW(3) - INTERVAL ? SECOND)', [
        r.id, JSON.stringify({orderId: r.id, amount: 12.5}), r.status === 'dead' ? 3 : 1, r.attempts ?? 0, r.ageSec,
      ])
  },
  async read(conn) {
    const [rows] = await conn.query('SELECT messageId, messageStatus, retryCount FROM order_mq_tab')
    const names: Record<number, string> = {1: 'pending', 2: 'sent', 3: 'dead'}
    return new Map((rows as {messageId: string; messageStatus: number; retryCount: number}[]).map((r) => [r.messageId, {status: names[r.messageStatus], attempts: r.retryCount, sentAt: null, lastError: null}]))
  },
  args(exchange) {
    const path = join(tempDir, `int-${exchange}.yaml`)
    writeFileSync(path, `outbox:
  table: order_mq_tab
  columns: {id: messageId, payload: messageContent, status: messageStatus, createdAt: addTime, attempts: retryCount, lastError: null, sentAt: null}
  statuses: {pending: 1, sent: 2, deadLetter: 3}
  exchange: ${exchange}
  routingKey: ${ROUTING_KEY}
`)
    return ['--config', path]
  },
  async clear(conn) {
    await conn.query('DELETE FROM order_mq_tab')
  },
}

/** Takes every message in the queue (they are all there once the drain has exited: confirmed means enqueued). */
async function takeAll(queue: string): Promise<ConsumeMessage[]> {
  const out: ConsumeMessage[] = []
  for (;;) {
    const m = await world.channel.get(queue, {noAck: true})
    if (m === false) return out
    out.push(m as unknown as ConsumeMessage)
  }
}

/** Polls until the condition holds; the deadline only keeps a broken run from hanging the file. */
async function until(condition: () => Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('the condition never held')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>
}

describe.each([reference, integer])('outbox on the $name', (variant) => {
  let conn: mysql.Connection
  let env: Record<string, string>
  let sql: MysqlAdapter
  let amqpAdapter: AmqpAdapter
  const config = (exchange = 'orders.x'): Config => loadConfig({configPath: variant.args(exchange)[1], env}).config
  const publisher = () => new ConfirmPublisher(amqpAdapter)

  afterAll(async () => {
    await sql?.close()
    await amqpAdapter?.close()
  })

  beforeAll(async () => {
    const own = await world.database()
    conn = own.conn
    env = own.env
    await variant.setup(conn, env)
    sql = await MysqlAdapter.connect(own.db.url, 5000)
    amqpAdapter = await AmqpAdapter.connect(world.vhost.amqpUrl, 5000)
  })

  const cli = (args: string[], exchange = 'orders.x') => runCli([...args, ...variant.args(exchange)], {env})

  it('drain publishes old pending rows with confirms and marks only those sent', async () => {
    await variant.clear(conn)
    await takeAll('orders.q')
    const ids = Array.from({length: 12}, (_, i) => `ok-${String(i).padStart(3, '0')}`)
    await variant.insert(conn, ids.map((id) => ({id, ageSec: 3600, exchange: 'orders.x'})))
    await variant.insert(conn, [{id: 'young-1', ageSec: 0, exchange: 'orders.x'}])

    const dry = await cli(['outbox', 'drain', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(json(dry.stdout)).toMatchObject({dryRun: true, eligible: 12})
    expect((await takeAll('orders.q')).length).toBe(0)

    const run = await cli(['outbox', 'drain', '--yes', '--json', '--batch', '5'])
    expect(run.code, run.stderr).toBe(0)
    expect(json(run.stdout)).toMatchObject({published: 12, returned: 0, nacked: 0, deadLettered: 0, remaining: 0, batches: 3})
    const state = await variant.read(conn)
    for (const id of ids) expect(state.get(id)?.status).toBe('sent')
    expect(state.get('young-1')?.status).toBe('pending')
    if (variant === reference) expect(state.get(ids[0])?.sentAt).not.toBeNull()

    const messages = await takeAll('orders.q')
    expect(messages.map((m) => m.properties.messageId).sort()).toEqual(ids)
    const first = messages.find((m) => m.properties.messageId === ids[0])!
    expect(JSON.parse(first.content.toString())).toEqual({orderId: ids[0], amount: 12.5})
    expect(first.properties.contentType).toBe('application/json')
    expect(first.properties.deliveryMode).toBe(2)
    expect(first.fields.routingKey).toBe(ROUTING_KEY)
    expect(first.properties.type).toBe(variant === reference ? 'order.created' : undefined)
    // No msgops header by default: the row's own headers as written, and no table at all when the row has none.
    if (variant === reference) expect(first.properties.headers).toEqual({'x-tenant': 't1'})
    else expect(first.properties.headers ?? {}).toEqual({})
  })

  it('--mark-drained adds x-msgops-drained-at beside the row\'s own headers', async () => {
    await variant.clear(conn)
    await takeAll('orders.q')
    await variant.insert(conn, [{id: 'mark-1', ageSec: 3600, exchange: 'orders.x'}])
    const before = Date.now()
    const run = await cli(['outbox', 'drain', '--yes', '--json', '--mark-drained'])
    expect(run.code, run.stderr).toBe(0)
    const [message] = await takeAll('orders.q')
    const stamp = String(message.properties.headers?.['x-msgops-drained-at'])
    expect(stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(Date.parse(stamp)).toBeGreaterThanOrEqual(before - 1000)
    if (variant === reference) expect(message.properties.headers?.['x-tenant']).toBe('t1')
  })

  it('--in-flight sets how many batches are published at once; every row is published once either way', async () => {
    for (const inFlight of ['1', '6']) {
      await variant.clear(conn)
      await takeAll('orders.q')
      const ids = Array.from({length: 23}, (_, i) => `f${inFlight}-${String(i).padStart(3, '0')}`)
      await variant.insert(conn, ids.map((id) => ({id, ageSec: 3600, exchange: 'orders.x'})))
      const run = await cli(['outbox', 'drain', '--yes', '--json', '--batch', '2', '--in-flight', inFlight])
      expect(run.code, run.stderr).toBe(0)
      expect(json(run.stdout)).toMatchObject({published: 23, remaining: 0, batches: 12})
      expect((await takeAll('orders.q')).map((m) => m.properties.messageId).sort()).toEqual(ids)
    }
    const bad = await cli(['outbox', 'drain', '--yes', '--in-flight', '0'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/in-flight/)
  })

  it('an exchange without a binding returns the message: the row stays pending with one more attempt', async () => {
    await variant.clear(conn)
    await variant.insert(conn, [{id: 'ret-1', ageSec: 600, exchange: 'unbound.x', attempts: 1}])
    const run = await cli(['outbox', 'drain', '--yes', '--json'], 'unbound.x')
    expect(run.code, run.stderr).toBe(1)
    expect(json(run.stdout)).toMatchObject({published: 0, returned: 1, deadLettered: 0, remaining: 1})
    const row = (await variant.read(conn)).get('ret-1')!
    expect(row).toMatchObject({status: 'pending', attempts: 2})
    if (variant === reference) expect(row.lastError).toMatch(/NO_ROUTE/)
  })

  it('a nack from the broker (queue full, reject-publish) is an attempt, not a send', async () => {
    await variant.clear(conn)
    await variant.insert(conn, [{id: 'nack-1', ageSec: 600, exchange: 'full.x'}])
    const result = await drainOutbox({sql, publisher: publisher()}, {config: config('full.x')})
    expect(result).toMatchObject({published: 0, nacked: 1, returned: 0})
    expect((await variant.read(conn)).get('nack-1')).toMatchObject({status: 'pending', attempts: 1})
  })

  it('max attempts turns a failing row into a dead letter', async () => {
    await variant.clear(conn)
    await variant.insert(conn, [{id: 'dl-1', ageSec: 600, exchange: 'unbound.x', attempts: 2}, {id: 'dl-2', ageSec: 600, exchange: 'unbound.x', attempts: 0}])
    const progress: number[] = []
    const result = await drainOutbox({sql, publisher: publisher()}, {config: config('unbound.x'), maxAttempts: 3}, (p) => progress.push(p.done))
    expect(result).toMatchObject({returned: 2, deadLettered: 1, remaining: 1, eligible: 2})
    expect(progress.at(-1)).toBe(2)
    const state = await variant.read(conn)
    expect(state.get('dl-1')).toMatchObject({status: 'dead', attempts: 3})
    expect(state.get('dl-2')).toMatchObject({status: 'pending', attempts: 1})
  })

  it('a missing exchange is a clear error (exit 2), and no row becomes sent', async () => {
    // The exchange is there when the drain checks it, and deleted once the first row (miss-0) is sent: the next batch's
    // publish meets the broker's 404. The drain publishes one row a second, so the deletion lands between two batches.
    await variant.clear(conn)
    await world.channel.assertExchange('missing.x', 'topic', {durable: true})
    await world.channel.bindQueue('orders.q', 'missing.x', 'order.#')
    await variant.insert(conn, [0, 1, 2].map((i) => ({id: `miss-${i}`, ageSec: 600, exchange: 'missing.x'})))
    const running = cli(['outbox', 'drain', '--yes', '--rate', '1', '--in-flight', '1'], 'missing.x')
    await until(async () => (await variant.read(conn)).get('miss-0')?.status === 'sent')
    await world.channel.deleteExchange('missing.x')
    const run = await running
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/exchange "missing\.x" does not exist/)
    expect(run.stderr).toMatch(/\(row miss-1\) was rolled back/)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    const state = await variant.read(conn)
    expect(state.get('miss-1')).toMatchObject({status: 'pending', attempts: 0})
    expect(state.get('miss-2')).toMatchObject({status: 'pending', attempts: 0})

    // The next drain checks the exchange first and sets its rows aside instead of failing again.
    const next = await cli(['outbox', 'drain', '--yes', '--json'], 'missing.x')
    expect(next.code, next.stderr).toBe(1)
    expect(json(next.stdout)).toMatchObject({published: 0, invalid: 2, failures: [{id: 'miss-1', outcome: 'invalid', reason: 'exchange "missing.x" does not exist'}, {id: 'miss-2'}]})
    const after = await variant.read(conn)
    expect(after.get('miss-1')).toMatchObject({status: 'pending', attempts: 1})
    if (variant === reference) expect(after.get('miss-2')?.lastError).toBe('invalid: exchange "missing.x" does not exist')
    await takeAll('orders.q')
  })

  it('a connection lost mid-batch rolls that batch back (rows stay pending) and throws', async () => {
    await variant.clear(conn)
    await takeAll('orders.q')
    await variant.insert(conn, Array.from({length: 6}, (_, i) => ({id: `cut-${i}`, ageSec: 600, exchange: 'orders.x'})))
    const doomed = await AmqpAdapter.connect(world.vhost.amqpUrl, 5000)
    const inner = new ConfirmPublisher(doomed)
    let calls = 0
    // The real publisher on a real connection whose socket is cut while the second batch waits for its confirms.
    const cutting: PublisherPort = {
      publishBatch(messages, options) {
        const answer = inner.publishBatch(messages, options)
        if (messages.length > 0 && ++calls === 2) (doomed.model.connection as unknown as {stream: {destroy(error: Error): void}}).stream.destroy(new Error('connection reset by the test'))
        return answer
      },
      close: () => inner.close(),
    }
    const error = await drainOutbox({sql, publisher: cutting}, {config: config('orders.x'), batchSize: 3, pipeline: 1, confirmTimeoutMs: 5000}).catch((e: unknown) => e)
    await doomed.close()
    expect(error).toBeInstanceOf(OperationError)
    expect((error as Error).message).toMatch(/RabbitMQ.*rolled back.*3 published in committed batches/)
    const state = await variant.read(conn)
    expect(['cut-0', 'cut-1', 'cut-2'].map((id) => state.get(id)?.status)).toEqual(['sent', 'sent', 'sent'])
    expect(['cut-3', 'cut-4', 'cut-5'].map((id) => state.get(id))).toEqual([0, 0, 0].map(() => expect.objectContaining({status: 'pending', attempts: 0})))
  })

  it('the drain honours --limit, --ids and a SIGINT-like abort between batches', async () => {
    await variant.clear(conn)
    await takeAll('orders.q')
    await variant.insert(conn, Array.from({length: 7}, (_, i) => ({id: `lim-${i}`, ageSec: 600, exchange: 'orders.x'})))
    expect(await drainOutbox({sql, publisher: publisher()}, {config: config('orders.x'), limit: 3, batchSize: 2})).toMatchObject({published: 3, batches: 2, remaining: 4})
    expect(await drainOutbox({sql, publisher: publisher()}, {config: config('orders.x'), ids: ['lim-6']})).toMatchObject({published: 1, remaining: 0})
    const abort = new AbortController()
    const result = await drainOutbox({sql, publisher: publisher(), signal: abort.signal}, {config: config('orders.x'), batchSize: 1, pipeline: 1}, (p) => p.done > 0 && abort.abort())
    expect(result).toMatchObject({published: 1, interrupted: true, remaining: 2})
    expect((await takeAll('orders.q')).map((m) => m.properties.messageId).sort()).toEqual(['lim-0', 'lim-1', 'lim-2', 'lim-3', 'lim-6'])
  })

  it('requeue brings dead letters back to pending with attempts reset', async () => {
    await variant.clear(conn)
    await variant.insert(conn, [
      {id: 'rq-1', ageSec: 7200, exchange: 'orders.x', status: 'dead', attempts: 10},
      {id: 'rq-2', ageSec: 60, exchange: 'orders.x', status: 'dead', attempts: 10},
      {id: 'rq-3', ageSec: 60, exchange: 'orders.x', attempts: 4},
    ])
    const none = await cli(['outbox', 'requeue', '--yes'])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/needs a filter/)

    expect(await requeueOutbox(sql, {config: config(), all: true, dryRun: true})).toMatchObject({dryRun: true, matching: 2, requeued: 0})
    expect(await requeueOutbox(sql, {config: config(), all: true, confirm: async () => false})).toMatchObject({cancelled: true, requeued: 0})
    const old = await cli(['outbox', 'requeue', '--older-than', '1h', '--yes', '--json'])
    expect(old.code, old.stderr).toBe(0)
    expect(json(old.stdout)).toMatchObject({requeued: 1})
    let state = await variant.read(conn)
    expect(state.get('rq-1')).toMatchObject({status: 'pending', attempts: 0})
    expect(state.get('rq-2')?.status).toBe('dead')
    expect(await requeueOutbox(sql, {config: config(), ids: ['rq-2', 'rq-3']})).toMatchObject({matching: 1, requeued: 1})
    state = await variant.read(conn)
    expect(state.get('rq-2')).toMatchObject({status: 'pending', attempts: 0})
    expect(state.get('rq-3')).toMatchObject({status: 'pending', attempts: 4})
  })

  it('status counts per status and exits 1 on a breached threshold', async () => {
    await variant.clear(conn)
    await variant.insert(conn, [
      {id: 'st-1', ageSec: 3600, exchange: 'orders.x', attempts: 3},
      {id: 'st-2', ageSec: 10, exchange: 'orders.x'},
      {id: 'st-3', ageSec: 10, exchange: 'orders.x', status: 'dead', attempts: 10},
    ])
    const report = await outboxStatus(sql, {config: config(), failIfPendingOlderThanMs: 7_200_000, failIfDeadLetters: 2})
    expect(report).toMatchObject({counts: {pending: 2, sent: 0, 'dead-letter': 1}, total: 3, stuck: 1, attempts: {'0': 1, '3-5': 1, '10+': 1}, alerts: []})
    expect(report.oldestPendingAgeMs).toBeGreaterThanOrEqual(3_590_000)
    expect(statusAlerts(report, {failIfDeadLetters: 1})).toHaveLength(1)

    const metrics = join(tempDir, `${variant === reference ? 'ref' : 'int'}.prom`)
    const old = await cli(['outbox', 'status', '--fail-if-pending-older-than', '10m', '--metrics-file', metrics])
    expect(old.code, old.stderr).toBe(1)
    expect(old.stdout).toMatch(/ALERT: the oldest pending row/)
    const text = readFileSync(metrics, 'utf8')
    expect(text).toMatch(/msgops_outbox_rows\{table="[a-z_]+",status="pending"\} 2/)
    expect(text).toMatch(/msgops_outbox_alerts\{table="[a-z_]+"\} 1/)
    const dead = await cli(['outbox', 'status', '--fail-if-dead-letters', '1', '--json'])
    expect(dead.code).toBe(1)
    expect(json(dead.stdout)).toMatchObject({alerts: [expect.stringMatching(/1 dead-letter row/)]})
  })

  it('list filters and pages by keyset; show prints the whole row', async () => {
    await variant.clear(conn)
    await variant.insert(conn, ['ls-1', 'ls-2', 'ls-3'].map((id) => ({id, ageSec: 600, exchange: 'orders.x'})))
    await variant.insert(conn, [{id: 'ls-4', ageSec: 600, exchange: 'orders.x', status: 'dead'}])
    const first = await listOutbox(sql, {config: config(), status: 'pending', limit: 2})
    expect(first.rows.map((r) => r.id)).toEqual(['ls-1', 'ls-2'])
    expect(first.next).toBe('ls-2')
    const second = await listOutbox(sql, {config: config(), status: 'pending', limit: 2, after: 'ls-2'})
    expect(second.rows.map((r) => r.id)).toEqual(['ls-3'])
    expect(second.next).toBeNull()
    const dead = await listOutbox(sql, {config: config(), status: 'dead-letter'})
    expect(dead.rows.map((r) => [r.id, r.status])).toEqual([['ls-4', 'dead-letter']])
    expect((await listOutbox(sql, {config: config(), newerThanMs: 60_000})).rows).toEqual([])
    await expect(listOutbox(sql, {config: config(), status: 'nonsense'})).rejects.toThrow(/unknown status/)
    if (variant === integer) await expect(listOutbox(sql, {config: config(), eventType: 'x'})).rejects.toThrow(/no event type column/)

    const table = await cli(['outbox', 'list', '--status', 'pending'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/ls-3/)
    const show = await cli(['outbox', 'show', 'ls-1'])
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain('"orderId": "ls-1"')
    expect(await showOutbox(sql, {config: config(), id: 'ls-1'})).toMatchObject({id: 'ls-1', status: 'pending', payload: {orderId: 'ls-1', amount: 12.5}})
    expect(await showOutbox(sql, {config: config(), id: 'nope'})).toBeUndefined()
  })
})

/** A publisher port that confirms every message it is given, knows a set of missing exchanges, and records what it published. */
class FakePublisher implements PublisherPort {
  readonly published: OutgoingMessage[] = []
  checks = 0
  constructor(
    readonly missing: Set<string>,
    /** Exchanges that exist when checked but refuse the publish, as if deleted meanwhile: the 404 teaches the fake. */
    readonly deletedLater = new Set<string>(),
  ) {}

  async missingExchanges(names: string[]): Promise<Set<string>> {
    this.checks++
    return new Set(names.filter((n) => this.missing.has(n)))
  }

  async publishBatch(messages: OutgoingMessage[]): Promise<PublishOutcome[]> {
    const gone = messages.find((m) => this.deletedLater.has(m.exchange))
    if (gone) {
      this.missing.add(gone.exchange)
      throw new OperationError(`RabbitMQ: exchange "${gone.exchange}" does not exist`)
    }
    this.published.push(...messages)
    return messages.map(() => ({status: 'confirmed'}))
  }

  async close(): Promise<void> {}
}

describe('the drain on the reference schema: missing exchanges, its confirmation, its clock', () => {
  let conn: mysql.Connection
  let env: Record<string, string>
  let sql: MysqlAdapter
  let config: Config
  const insert = async (rows: [string, string, number?][]) => {
    await conn.query('DELETE FROM outbox')
    await reference.insert(conn, rows.map(([id, exchange, attempts]) => ({id, exchange, ageSec: 600, attempts})))
  }

  beforeAll(async () => {
    const own = await world.database()
    conn = own.conn
    env = own.env
    await initReferenceSchema(conn, env)
    sql = await MysqlAdapter.connect(own.db.url, 5000)
    config = loadConfig({env}).config
  })

  afterAll(async () => {
    await sql?.close()
  })

  it('outbox.markDrained: true in the configuration marks every message as --mark-drained does; false (the default) does not', async () => {
    for (const mark of [true, false]) {
      await takeAll('orders.q')
      await insert([[`cfg-${mark}`, 'orders.x']])
      const path = join(tempDir, `mark-${mark}.yaml`)
      writeFileSync(path, `outbox:\n  markDrained: ${mark}\n`)
      const run = await runCli(['outbox', 'drain', '--yes', '--json', '--config', path], {env})
      expect(run.code, run.stderr).toBe(0)
      const [message] = await takeAll('orders.q')
      expect(message.properties.messageId).toBe(`cfg-${mark}`)
      expect(message.properties.headers?.['x-msgops-drained-at'] !== undefined).toBe(mark)
    }
  })

  it('sets the row aside with an attempt and its error, sends the rest of its batch, and dead-letters it at --max-attempts', async () => {
    await takeAll('orders.q')
    await insert([['mx-1', 'orders.x'], ['mx-2', 'nowhere.x'], ['mx-3', 'orders.x']])
    const run = await runCli(['outbox', 'drain', '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(1)
    expect(json(run.stdout)).toMatchObject({published: 2, invalid: 1, deadLettered: 0, batches: 1, failures: [{id: 'mx-2', outcome: 'invalid', reason: 'exchange "nowhere.x" does not exist', deadLettered: false}]})
    let state = await reference.read(conn)
    expect(state.get('mx-1')?.status).toBe('sent')
    expect(state.get('mx-3')?.status).toBe('sent')
    expect(state.get('mx-2')).toMatchObject({status: 'pending', attempts: 1, lastError: 'invalid: exchange "nowhere.x" does not exist'})
    expect((await takeAll('orders.q')).map((m) => m.properties.messageId).sort()).toEqual(['mx-1', 'mx-3'])

    const text = await runCli(['outbox', 'list', '--exchange', 'nowhere.x'], {env})
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/mx-2/)
    expect(text.stdout).not.toMatch(/mx-[13]/)
    const listed = await runCli(['outbox', 'list', '--exchange', 'nowhere.x', '--json'], {env})
    expect(json(listed.stdout).rows).toEqual([expect.objectContaining({id: 'mx-2', exchange: 'nowhere.x', lastError: 'invalid: exchange "nowhere.x" does not exist'})])

    const again = await runCli(['outbox', 'drain', '--yes', '--json', '--max-attempts', '2'], {env})
    expect(again.code, again.stderr).toBe(1)
    expect(json(again.stdout)).toMatchObject({published: 0, invalid: 1, deadLettered: 1, remaining: 0})
    state = await reference.read(conn)
    expect(state.get('mx-2')).toMatchObject({status: 'dead', attempts: 2})
  })

  it('the core asks the publisher once per batch and never hands it a message to a missing exchange', async () => {
    await insert([['fk-1', 'orders.x'], ['fk-2', 'gone.x'], ['fk-3', 'orders.x'], ['fk-4', 'gone.x'], ['fk-5', 'other.x']])
    const fake = new FakePublisher(new Set(['gone.x']))
    const result = await drainOutbox({sql, publisher: fake}, {config, batchSize: 2, pipeline: 1})
    expect(result).toMatchObject({published: 3, invalid: 2, batches: 3})
    expect(fake.checks).toBe(3)
    expect(fake.published.map((m) => m.properties.messageId)).toEqual(['fk-1', 'fk-3', 'fk-5'])
    const state = await reference.read(conn)
    expect(['fk-2', 'fk-4'].map((id) => state.get(id))).toEqual([1, 2].map(() => expect.objectContaining({status: 'pending', attempts: 1, lastError: 'invalid: exchange "gone.x" does not exist'})))
  })

  it('an exchange deleted mid-run rolls its batch back; the same publisher then sets those rows aside instead of failing again', async () => {
    await insert([['dl-1', 'orders.x'], ['dl-2', 'late.x'], ['dl-3', 'orders.x']])
    const fake = new FakePublisher(new Set(), new Set(['late.x']))
    const error = await drainOutbox({sql, publisher: fake}, {config, pipeline: 1}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect((error as Error).message).toMatch(/exchange "late\.x" does not exist; the batch in hand \(3 rows, ids dl-1 to dl-3\) was rolled back/)
    let state = await reference.read(conn)
    expect([...state.values()].map((r) => [r.status, r.attempts])).toEqual([['pending', 0], ['pending', 0], ['pending', 0]])

    const second = await drainOutbox({sql, publisher: fake}, {config, pipeline: 1})
    expect(second).toMatchObject({published: 2, invalid: 1})
    state = await reference.read(conn)
    expect(state.get('dl-2')).toMatchObject({status: 'pending', attempts: 1, lastError: 'invalid: exchange "late.x" does not exist'})
    expect(fake.published.map((m) => m.properties.messageId)).toEqual(['dl-1', 'dl-3'])
  })

  it('the real publisher checks each exchange once and tells a missing one from an existing one', async () => {
    const amqpAdapter = await AmqpAdapter.connect(world.vhost.amqpUrl, 5000)
    try {
      const publisher = new ConfirmPublisher(amqpAdapter)
      expect(await publisher.missingExchanges(['orders.x', 'nowhere.x', '', 'amq.topic', 'nowhere.x'])).toEqual(new Set(['nowhere.x']))
      // The 404 closed only its own channel: the publisher still publishes.
      const [answer] = await publisher.publishBatch([{exchange: 'orders.x', routingKey: 'order.created', body: Buffer.from('{}'), properties: {messageId: 'probe'}}])
      expect(answer).toEqual({status: 'confirmed'})
      await publisher.close()
      await takeAll('orders.q')
    } finally {
      await amqpAdapter.close()
    }
  })

  it('the rate and the elapsed time start after the answer: a long wait at the prompt does not spend the rate limit', async () => {
    await insert([['ck-1', 'orders.x'], ['ck-2', 'orders.x'], ['ck-3', 'orders.x'], ['ck-4', 'orders.x']])
    // A clock that moves only when told: one minute at the prompt, and whatever the drain sleeps.
    let now = 1_000_000
    const sleeps: number[] = []
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms)
        now += Math.max(0, ms)
      },
    }
    const confirm = async () => {
      now += 60_000
      return true
    }
    const result = await drainOutbox({sql, publisher: new FakePublisher(new Set()), clock}, {config, ratePerSecond: 2, pipeline: 1, confirm})
    expect(result).toMatchObject({published: 4, batches: 2})
    // 2 rows a second: a batch of 2, then a one-second wait, twice; none of it was spent during the minute at the prompt.
    expect(sleeps).toEqual([1000, 1000])
    expect(result.elapsedMs).toBe(2000)
    expect(result.rate).toBe(2)
  })

  it('asks with the count of before the answer, then counts again: rows another drain sent meanwhile are not counted, nor said', async () => {
    await insert([['rc-1', 'orders.x'], ['rc-2', 'orders.x'], ['rc-3', 'orders.x'], ['rc-4', 'orders.x'], ['rc-5', 'orders.x']])
    const asked: DrainPlan[] = []
    const publisher = new FakePublisher(new Set())
    // While the person reads the question, another drain sends two of the rows.
    const result = await drainOutbox({sql, publisher}, {config, confirm: async (plan) => {
      asked.push(plan)
      await conn.query("UPDATE outbox SET status = 'sent' WHERE id IN ('rc-1', 'rc-2')")
      return true
    }})
    expect(asked.map((p) => p.eligible)).toEqual([5])
    expect(result).toMatchObject({eligible: 3, published: 3, idle: null})
    expect(publisher.published.map((m) => m.properties.messageId)).toEqual(['rc-3', 'rc-4', 'rc-5'])

    // All of them gone by the time of the answer: nothing to do, and why.
    await insert([['rc-6', 'orders.x']])
    const none = await drainOutbox({sql, publisher}, {config, confirm: async () => {
      await conn.query("UPDATE outbox SET status = 'sent'")
      return true
    }})
    expect(none).toMatchObject({eligible: 0, published: 0, idle: {reason: 'no pending rows'}})
  })

  it('a drain with nothing to do says why: rows too young, rows not available yet', async () => {
    await insert([])
    await reference.insert(conn, [{id: 'yg-1', exchange: 'orders.x', ageSec: 1}, {id: 'yg-2', exchange: 'orders.x', ageSec: 2}])
    await conn.query("INSERT INTO outbox (id, exchange, routing_key, payload, status, created_at, available_at) VALUES ('av-1', 'orders.x', 'order.created', '{}', 'pending', NOW(3) - INTERVAL 1 HOUR, NOW(3) + INTERVAL 1 HOUR)")
    const run = await runCli(['outbox', 'drain', '--yes'], {env})
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/nothing to publish: 2 pending rows are younger than --older-than 30s \(the default\); 1 pending row is not available yet \(available_at in the future\)/)
    const dry = await runCli(['outbox', 'drain', '--dry-run', '--older-than', '1m', '--json'], {env})
    expect(json(dry.stdout)).toMatchObject({eligible: 0, idle: {pending: 3, younger: 2, notAvailable: 1}})
  })
})
