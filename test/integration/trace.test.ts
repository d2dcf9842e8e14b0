import {createWriteStream, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import amqp, {type Channel, type ChannelModel} from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {loadConfig} from '../../src/config/load.js'
import {auditIdsDdl} from '../../src/core/audit.js'
import type {SqlExecutor} from '../../src/core/ports.js'
import {auditDdl} from '../../src/core/schema.js'
import {gatherBatch, loadTraceSchema} from '../../src/core/trace/gather.js'
import {traceIds} from '../../src/core/trace/run.js'
import {cliEnv, createTestDatabase, runCli, type TestDatabase} from '../helpers/env.js'
import {createReconcileWorld, type ReconcileWorld} from '../helpers/reconcile.js'

/**
 * The reference schema with one order per verdict, a vhost where orders.x (topic) routes order.# to orders.q, which
 * dead-letters to orders.dlx (fanout) → orders.q.dlq, and a Redis prefix for the cache keys.
 */
let world: ReconcileWorld
let conn: mysql.Connection
let env: Record<string, string>
let configFile: string
let broker: ChannelModel
let ch: Channel
const OLD = 'NOW(3) - INTERVAL 2 HOUR'
const key = (id: string) => `${world.redis.prefix}order:${id}`

async function trace(args: string[], options: {input?: string; env?: Record<string, string>} = {}) {
  const result = await runCli(['trace', '--config', configFile, ...args], {env: {...env, ...options.env}, input: options.input, timeoutMs: 120_000})
  let json: any
  if (args.includes('--json')) {
    try {
      json = JSON.parse(result.stdout)
    } catch {
      throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
    }
  }
  return {...result, json}
}

async function depth(queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let n = 0; n < 200; n++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** An order, its outbox row, its inbox records and its cache key, in one go. */
async function order(id: string, o: {status?: string; message?: {id: string; status: string; attempts?: number; error?: string; sent?: boolean} | null; inbox?: [string, string, string?][]; cache?: string | null}) {
  const status = o.status ?? 'paid'
  const m = o.message === undefined ? {id: `m-${id}`, status: 'sent', sent: true} : o.message
  await conn.query(`INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES (?, ?, ?, ${OLD}, ${OLD})`, [id, m?.id ?? null, status])
  if (m)
    await conn.query(
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload, status, attempts, last_error, created_at, sent_at) VALUES (?, 'order', ?, 'order.paid', 'orders.x', 'order.paid', '{}', ?, ?, ?, ${OLD}, ${m.sent ? 'NOW(3) - INTERVAL 119 MINUTE' : 'NULL'})`,
      [m.id, id, m.status, m.attempts ?? 0, m.error ?? null],
    )
  for (const [consumer, st, error] of o.inbox ?? [])
    await conn.query(`INSERT INTO inbox (message_id, consumer, status, last_error, received_at, processed_at) VALUES (?, ?, ?, ?, NOW(3) - INTERVAL 118 MINUTE, NOW(3) - INTERVAL 118 MINUTE)`, [m!.id, consumer, st, error ?? null])
  if (o.cache !== null) await world.redis.client.set(key(id), o.cache ?? status)
}

const BOTH: [string, string][] = [['billing', 'processed'], ['shipping', 'processed']]

beforeAll(async () => {
  world = await createReconcileWorld('msgops_trace', {exchange: 'orders.x', type: 'topic', queue: 'orders.unused', routingKey: 'nothing'})
  conn = world.conn
  env = world.env
  configFile = join(world.dir, 'msgops.yaml')
  writeFileSync(configFile, `cache:\n  keyPattern: "${world.redis.prefix}order:{id}"\n`)
  broker = await amqp.connect(world.vhost.amqpUrl)
  ch = await broker.createChannel()
  await ch.assertExchange('orders.dlx', 'fanout', {durable: true})
  await ch.assertQueue('orders.q.dlq', {durable: true})
  await ch.bindQueue('orders.q.dlq', 'orders.dlx', '')
  await ch.assertQueue('orders.q', {durable: true, arguments: {'x-dead-letter-exchange': 'orders.dlx'}})
  await ch.bindQueue('orders.q', 'orders.x', 'order.#')
  const init = await runCli(['schema', 'init'], {env})
  expect(init.code, init.stderr).toBe(0)

  await order('o-ok', {inbox: BOTH})
  await order('o-nomsg', {message: null})
  await order('o-stuck', {message: {id: 'm-stuck', status: 'pending', attempts: 4, error: 'NO_ROUTE'}, cache: 'created'})
  await order('o-dead', {message: {id: 'm-dead', status: 'dead_letter', attempts: 10, error: 'exchange "orders.gone" does not exist'}})
  await order('o-dlq', {})
  await order('o-lost', {})
  await order('o-fail', {inbox: [['billing', 'processed'], ['shipping', 'failed', 'stock service timeout']]})
  await order('o-cmiss', {inbox: BOTH, cache: null})
  await order('o-cdiff', {inbox: BOTH, cache: 'created'})
  // A real dead letter: published as the relay would, rejected by the consumer of orders.q, x-death set by RabbitMQ.
  ch.publish('orders.x', 'order.paid', Buffer.from('{}'), {messageId: 'm-o-dlq', persistent: true, contentType: 'application/json'})
  await waitFor(async () => (await depth('orders.q')) === 1, 'orders.q')
  const consumer = await broker.createChannel()
  await consumer.consume('orders.q', (msg) => msg && consumer.nack(msg, false, false))
  await waitFor(async () => (await depth('orders.q.dlq')) === 1, 'the dead letter')
  await consumer.close()
})

afterAll(async () => {
  await broker?.close().catch(() => {})
  await world?.cleanup()
})

describe('msgops trace: one verdict per case', () => {
  it('consistent: the --json shape, consumed by 2 of 2, cache matches, exit 0', async () => {
    const r = await trace(['o-ok', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(Object.keys(r.json)).toEqual(['id', 'kind', 'order', 'outbox', 'audit', 'inbox', 'cache', 'broker', 'timeline', 'verdict', 'repair', 'notes'])
    expect(r.json).toMatchObject({id: 'o-ok', kind: 'order', order: {status: 'paid', messageId: 'm-o-ok'}, cache: {state: 'equal', value: 'paid'}, repair: []})
    expect(r.json.outbox.map((m: any) => [m.id, m.state])).toEqual([['m-o-ok', 'sent']])
    expect(r.json.inbox.map((i: any) => i.consumer).sort()).toEqual(['billing', 'shipping'])
    expect(r.json.verdict).toEqual({state: 'consistent', text: 'consistent: consumed by 2 of 2 consumers, cache matches'})
    const steps = r.json.timeline.map((e: any) => e.event)
    expect(steps.slice(0, 3)).toEqual(['committed', 'committed', 'sent'])
    expect([...steps.slice(3, 7)].sort()).toEqual(['consumed', 'consumed', 'received', 'received'])
    expect(steps.at(-1)).toBe('cached')
    const times = r.json.timeline.filter((e: any) => e.at !== null).map((e: any) => e.at)
    expect(times).toEqual([...times].sort())
    // The database said it was consumed: no dead-letter queue was read; the destination queue was counted, not read.
    expect(r.json.broker.dlq.state).toBe('not_read')
    expect(r.json.broker.queues.map((q: any) => q.queue)).toEqual(['orders.q'])
    expect(r.json.broker.notes.join(' ')).toMatch(/never read/)
  })

  it('the same order traced by its message id (found as a message), and in a terminal-less human form', async () => {
    const r = await trace(['m-o-ok'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^message m-o-ok/)
    expect(r.stdout).toContain('consistent: consumed by 2 of 2 consumers, cache matches')
    expect(r.stdout).toContain('destination queues are never read')
  })

  it('an order without outbox row: no_message, exit 1', async () => {
    const r = await trace(['o-nomsg', '--json'])
    expect(r.code).toBe(1)
    expect(r.json.verdict.state).toBe('no_message')
    expect(r.json.outbox).toEqual([])
  })

  it('pending and stuck: its age, attempts and last error; the repair drains it', async () => {
    const r = await trace(['o-stuck', '--json'])
    expect(r.code).toBe(1)
    expect(r.json.verdict).toEqual({state: 'stuck', text: 'stuck: pending for 2h, 4 attempts, last error NO_ROUTE'})
    expect(r.json.repair).toEqual(['msgops reconcile --check message_stuck --fix --since 3h'])
  })

  it('a dead-letter row: requeue then drain', async () => {
    const r = await trace(['--message', 'm-dead', '--json'])
    expect(r.code).toBe(1)
    expect(r.json.kind).toBe('message')
    expect(r.json.order.id).toBe('o-dead')
    expect(r.json.verdict.state).toBe('dead_letter')
    expect(r.json.repair).toEqual(['msgops outbox requeue --message-id m-dead', 'msgops outbox drain'])
  })

  it('sent and in the DLQ with a real x-death: found with hold-and-return (still there after), replay is the repair', async () => {
    const r = await trace(['o-dlq', '--json'])
    expect(r.code, r.stderr).toBe(1)
    expect(r.json.verdict.state).toBe('dead_lettered')
    expect(r.json.verdict.text).toMatch(/^sent 1h 59m ago but no consumer recorded it; found in orders\.q\.dlq: rejected by orders\.q at \d\d:\d\d:\d\dZ$/)
    expect(r.json.broker.dlq.found[0]).toMatchObject({messageId: 'm-o-dlq', queue: 'orders.q.dlq', reason: 'rejected', from: 'orders.q', deaths: 1})
    expect(r.json.broker.deadLetterQueues).toEqual(['orders.q.dlq'])
    expect(r.json.repair).toEqual(['msgops dlq replay orders.q.dlq --message-id m-o-dlq'])
    expect(r.json.timeline.map((e: any) => e.event)).toContain('dead-lettered')
    expect(await depth('orders.q.dlq')).toBe(1)
  })

  it('sent, never consumed, not in the DLQ: not_consumed, saying what was read', async () => {
    const r = await trace(['o-lost', '--json'])
    expect(r.code).toBe(1)
    expect(r.json.verdict.state).toBe('not_consumed')
    expect(r.json.broker.dlq).toMatchObject({state: 'absent', read: 1})
    expect(r.json.verdict.text).toContain('not in orders.q.dlq (1 dead letter read)')
    expect(r.json.repair).toEqual(['msgops reconcile --check sent_not_consumed --fix --since 3h', 'msgops outbox drain'])
  })

  it('consumed, failed by one of two consumers', async () => {
    const r = await trace(['o-fail', '--json'])
    expect(r.code).toBe(1)
    expect(r.json.verdict.state).toBe('consume_failed')
    expect(r.json.verdict.text).toContain('shipping recorded it failed (stock service timeout), 1 of 2 consumers processed it')
  })

  it('cache missing and cache different, with both values; the repair is reconcile cache_drift', async () => {
    const missing = await trace(['o-cmiss', '--json'])
    expect(missing.code).toBe(1)
    expect(missing.json.verdict.state).toBe('cache_missing')
    expect(missing.json.cache).toMatchObject({state: 'missing', key: key('o-cmiss'), expected: 'paid'})
    const different = await trace(['o-cdiff', '--json'])
    expect(different.json.verdict.state).toBe('cache_different')
    expect(different.json.cache).toMatchObject({state: 'different', value: 'created', expected: 'paid'})
    expect(different.json.repair).toEqual(['msgops reconcile --check cache_drift --fix --since 3h'])
  })

  it('an unknown id: exit 2, one line naming it, no stack', async () => {
    const r = await trace(['o-nowhere'])
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: no order, outbox row or inbox record has id "o-nowhere"; /)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('an id with SQL in it is just an id (placeholders): found nowhere, and the tables are untouched', async () => {
    const [[before]] = (await conn.query('SELECT COUNT(*) AS n FROM orders')) as any
    const r = await trace(["o-ok' OR '1'='1", '--json'])
    expect(r.code).toBe(2)
    expect(r.json.error.message).toContain(`"o-ok' OR '1'='1"`)
    expect(r.json.result).toMatchObject({kind: 'none', verdict: {state: 'not_found'}})
    const [[after]] = (await conn.query('SELECT COUNT(*) AS n FROM orders')) as any
    expect(after.n).toBe(before.n)
  })
})

describe('msgops trace: many ids', () => {
  it('from a file: one line per id, the details of the unhealthy ones, counts per state; --json an array plus counts', async () => {
    const file = join(world.dir, 'ids.txt')
    writeFileSync(file, 'o-ok\n# incident 4711\n\no-stuck\r\nm-o-fail\no-cdiff\n')
    const human = await trace(['--ids-file', file, '--batch-size', '2'])
    expect(human.code).toBe(1)
    const lines = human.stdout.split('\n').filter((l) => /^\S+\t/.test(l))
    expect(lines.map((l) => l.split('\t').slice(0, 3))).toEqual([
      ['o-ok', 'order', 'consistent'],
      ['o-stuck', 'order', 'stuck'],
      ['m-o-fail', 'message', 'consume_failed'],
      ['o-cdiff', 'order', 'cache_different'],
    ])
    expect(human.stdout).toContain('order o-stuck')
    expect(human.stdout).not.toContain('order o-ok\n')
    expect(human.stdout).toMatch(/4 ids in .*: 1 consistent, 1 stuck, 1 consume_failed, 1 cache_different/)
    const json = await trace(['--ids-file', '-', '--json'], {input: 'o-ok\no-nomsg\n'})
    expect(json.code).toBe(1)
    expect(json.json.total).toBe(2)
    expect(json.json.counts).toEqual({consistent: 1, no_message: 1})
    expect(json.json.traces.map((t: any) => t.id)).toEqual(['o-ok', 'o-nomsg'])
  })

  it('a file of 100,000 ids: streamed and batched in bounded memory (a 96 MB heap), the ids found nowhere named in one line', async () => {
    const file = join(world.dir, 'many.txt')
    const out = createWriteStream(file)
    out.write('o-ok\n')
    for (let n = 0; n < 99_999; n++) out.write(`x-${n}\n`)
    await new Promise((resolve) => out.end(resolve))
    const r = await trace(['--ids-file', file], {env: {NODE_OPTIONS: '--max-old-space-size=96'}})
    expect(r.code, r.stderr.slice(0, 500)).toBe(2)
    expect(r.stdout).toMatch(/100,000 ids in .*: 99999 not_found, 1 consistent/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^Error: 99999 ids exist nowhere: "x-0", .* and 99989 more; /)
  })

  it('bad ids files: empty, not UTF-8, missing: one line each, exit 2, no stack', async () => {
    const empty = join(world.dir, 'empty.txt')
    writeFileSync(empty, '')
    const binary = join(world.dir, 'binary.txt')
    writeFileSync(binary, Buffer.concat([Buffer.from('o-ok\n'), Buffer.from([0xc3, 0x28, 0x0a])]))
    for (const [args, message] of [
      [['--ids-file', empty], `ids file ${empty} holds no ids`],
      [['--ids-file', binary], `ids file ${binary} line 2 is not UTF-8 text`],
      [['--ids-file', join(world.dir, 'nope.txt')], 'does not exist'],
      [['--ids-file', '-'], 'stdin holds no ids'],
      [[], 'no id given'],
    ] as const) {
      const r = await trace([...args])
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      const lines = r.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(message)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
  })
})

describe('msgops trace: the audit', () => {
  it('names the requeue and the drain that touched a message (recorded by id), and what the drain sent', async () => {
    // Older than every other pending row, so that the drain below takes this one only.
    await conn.query("INSERT INTO outbox (id, aggregate_id, exchange, routing_key, payload, status, attempts, last_error, created_at) VALUES ('m-audit', NULL, 'orders.x', 'order.audit', '{}', 'dead_letter', 10, 'x', NOW(3) - INTERVAL 3 HOUR)")
    await conn.query("INSERT INTO orders (id, message_id, status) VALUES ('o-audit', 'm-audit', 'paid')")
    await world.redis.client.set(key('o-audit'), 'paid')
    const requeue = await runCli(['outbox', 'requeue', '--message-id', 'm-audit', '--yes'], {env})
    expect(requeue.code, requeue.stderr).toBe(0)
    const drain = await runCli(['outbox', 'drain', '--yes', '--older-than', '150m'], {env})
    expect(drain.code, drain.stderr).toBe(0)
    const r = await trace(['m-audit', '--json'])
    expect(r.json.audit.map((a: any) => [a.command, a.action, a.recorded])).toEqual([
      ['outbox requeue', 'requeue', true],
      ['outbox drain', 'drain', true],
    ])
    expect(r.json.outbox[0].state).toBe('sent')
    expect(r.json.verdict.state).toBe('in_flight')
    // The drain's message sits in orders.q: trace counted it there, it did not read it.
    expect(await depth('orders.q')).toBe(1)
  })

  it('names the replay that moved a dead letter back (the message id the broker confirmed)', async () => {
    const replay = await runCli(['dlq', 'replay', 'orders.q.dlq', '--message-id', 'm-o-dlq', '--yes'], {env})
    expect(replay.code, replay.stderr).toBe(0)
    const r = await trace(['o-dlq', '--json'])
    expect(r.json.audit.map((a: any) => [a.command, a.action, a.about])).toEqual([['dlq replay', 'replay', 'm-o-dlq']])
    expect(r.json.timeline.some((e: any) => e.event === 'audit' && e.detail.startsWith('msgops dlq replay (replay)'))).toBe(true)
    expect(await depth('orders.q.dlq')).toBe(0)
  })
})

describe('msgops trace: every lookup on an index', () => {
  it('EXPLAINs every statement one batch runs on the reference schema: none scans a table', async () => {
    // Enough rows that the optimizer's choice means something (on ten rows a scan is cheaper than any index).
    const n = Array.from({length: 3000}, (_x, i) => i)
    await conn.query(`INSERT INTO orders (id, message_id, status, created_at) VALUES ?`, [n.map((i) => [`f-${i}`, `fm-${i}`, 'paid', new Date()])])
    await conn.query(`INSERT INTO outbox (id, aggregate_id, payload, status, created_at) VALUES ?`, [n.map((i) => [`fm-${i}`, `f-${i}`, '{}', 'sent', new Date()])])
    await conn.query(`INSERT INTO inbox (message_id, consumer, status, received_at) VALUES ?`, [n.map((i) => [`fm-${i}`, 'billing', 'processed', new Date()])])
    await conn.query(auditDdl('msgops_audit'))
    await conn.query(auditIdsDdl('msgops_audit'))
    await conn.query('ANALYZE TABLE orders, outbox, inbox, msgops_audit, msgops_audit_ids')
    const statements: {sql: string; params: unknown[]}[] = []
    const capture: SqlExecutor = {
      query: async (sql, params = []) => {
        statements.push({sql, params})
        return (await conn.query(sql, params))[0] as never
      },
      execute: async () => ({affectedRows: 0}),
    }
    const config = loadConfig({configPath: configFile, env: {}, flags: {mysqlUrl: world.db.url}}).config
    const schema = await loadTraceSchema(capture, config)
    statements.length = 0
    await gatherBatch({sql: capture, cache: {unavailable: 'not needed'}}, schema, ['o-ok', 'o-stuck', 'm-o-fail', 'm-audit', 'x-1'], 'auto', DEFAULTS.cache.keyPattern)
    // Every kind of lookup a batch makes is among them.
    // Each lookup of a statement, a UNION ALL's branches one by one.
    const where = statements.flatMap((s) => [...s.sql.matchAll(/FROM (`\w+`)(?: i JOIN `\w+` a ON a\.`id` = i\.`audit_id`)? WHERE (\S+)/g)].map((m) => m.slice(1).join(' ')))
    for (const lookup of ['`orders` `id`', '`orders` `message_id`', '`outbox` `id`', '`outbox` `aggregate_id`', '`inbox` `message_id`', '`msgops_audit_ids` i.`item_id`'])
      expect(where, lookup).toContain(lookup)
    for (const s of statements) {
      const [plan] = (await conn.query(`EXPLAIN ${s.sql}`, s.params)) as any
      for (const row of plan) {
        if (row.table === null || /no matching|Impossible WHERE|const row not found|Select tables optimized away/i.test(row.Extra ?? '')) continue
        expect(row.type, `${row.table} in ${s.sql}: ${JSON.stringify(row)}`).not.toBe('ALL')
        expect(row.key, `${row.table} in ${s.sql}`).not.toBeNull()
      }
    }
  })
})

describe('msgops trace: the first round under the mapping as configured', () => {
  const capturing = () => {
    const statements: string[] = []
    const sql: SqlExecutor = {
      query: async (text, params = []) => {
        statements.push(text)
        return (await conn.query(text, params))[0] as never
      },
      execute: async () => ({affectedRows: 0}),
    }
    return {sql, statements}
  }
  const run = async (sql: SqlExecutor, config: typeof DEFAULTS, ids: string[]) => {
    const ports = {sql, cache: {unavailable: 'not read here'}, broker: {management: null, deadLetters: async () => Promise.reject(new Error('not read here'))}}
    const options = {kind: 'auto' as const, graceMs: 300_000, broker: {vhost: '/', scanAll: false, limit: 10, idleMs: 100, errorHeaders: []}}
    const out = []
    for await (const batch of traceIds(ports, config, options, ids)) out.push(...batch)
    return out
  }
  const base = () => loadConfig({configPath: configFile, env: {}, flags: {mysqlUrl: world.db.url}}).config

  it('when every mapped column exists: each lookup goes out once, one statement per table in round 1, information_schema not read', async () => {
    const {sql, statements} = capturing()
    const [t] = await run(sql, base(), ['o-ok'])
    expect(t.verdict.state).toBe('consistent')
    expect(statements.filter((q) => /FROM `orders` WHERE `id` IN/.test(q))).toHaveLength(1)
    expect(statements.filter((q) => /FROM `outbox` WHERE `aggregate_id` IN/.test(q))).toHaveLength(1)
    expect(statements.filter((q) => /FROM `orders` WHERE `id` IN .* UNION ALL .*FROM `orders` WHERE `message_id` IN/.test(q))).toHaveLength(1)
    expect(statements.filter((q) => /information_schema\.COLUMNS/.test(q))).toHaveLength(0)
  })

  it('a mapped table that does not exist: information_schema read, the same one-line error as before', async () => {
    const config = base()
    const missing = {...config, outbox: {...config.outbox, table: 'no_such_outbox'}}
    const {sql, statements} = capturing()
    await expect(run(sql, missing, ['o-ok'])).rejects.toThrow(/the outbox table "no_such_outbox" does not exist/)
    expect(statements.filter((q) => /information_schema\.COLUMNS/.test(q))).toHaveLength(1)
  })

  it('is sent again as the schema says when a mapped column is not in the table, and the trace is what it would have been', async () => {
    const config = base()
    const missing = {...config, outbox: {...config.outbox, columns: {...config.outbox.columns, sentAt: 'no_such_column'}}}
    const {sql, statements} = capturing()
    const [t] = await run(sql, missing, ['o-ok'])
    const [reference] = await run(capturing().sql, config, ['o-ok'])
    expect(statements.filter((q) => /FROM `outbox` WHERE `aggregate_id` IN/.test(q))).toHaveLength(2)
    expect(statements.filter((q) => /information_schema\.COLUMNS/.test(q))).toHaveLength(1)
    expect(t.outbox[0].unknown).toContain('sentAt')
    expect(t.outbox[0].sentAt).toBeNull()
    expect({...t.outbox[0], sentAt: null, sentAgeMs: null, unknown: [], ageMs: 0}).toEqual({...reference.outbox[0], sentAt: null, sentAgeMs: null, unknown: [], ageMs: 0})
    expect(t.order).toEqual({...reference.order, ageMs: t.order!.ageMs})
  })
})

describe('msgops trace: a team schema (integer statuses, no aggregate column, no timestamps)', () => {
  let db: TestDatabase
  let c: mysql.Connection
  let file: string
  beforeAll(async () => {
    db = await createTestDatabase('msgops_trint')
    c = await mysql.createConnection(db.url)
    file = join(world.dir, 'int.yaml')
    writeFileSync(
      file,
      `outbox:
  table: order_mq_tab
  columns: { id: messageId, payload: messageContent, status: messageStatus, createdAt: null, sentAt: null, aggregateId: null }
  statuses: { pending: 1, sent: 2, deadLetter: 3 }
  exchange: order_exchange
  routingKey: order.created
inbox:
  table: consumer_mq_tab
  columns: { messageId: messageId, status: messageStatus, receivedAt: addTime, consumer: null }
  statuses: { received: null, processed: 1, failed: 0 }
orders:
  table: order_tab
  columns: { id: orderId, messageId: messageId, status: orderStatus, createdAt: null, updatedAt: null }
cache:
  keyPattern: "${world.redis.prefix}ord:{id}"
  format: hash
  field: status
`,
    )
    await c.query('CREATE TABLE order_tab (orderId BIGINT NOT NULL PRIMARY KEY, messageId VARCHAR(64) NULL, orderStatus INT NOT NULL, KEY idx_msg (messageId))')
    await c.query('CREATE TABLE order_mq_tab (messageId VARCHAR(64) NOT NULL PRIMARY KEY, messageContent TEXT NOT NULL, messageStatus INT NOT NULL)')
    await c.query('CREATE TABLE consumer_mq_tab (id BIGINT AUTO_INCREMENT PRIMARY KEY, messageId VARCHAR(64) NOT NULL, messageStatus INT NOT NULL, addTime DATETIME(3) NOT NULL, UNIQUE KEY uq (messageId))')
    await c.query("INSERT INTO order_tab VALUES (101, 'mq-101', 10), (102, 'mq-102', 10)")
    await c.query("INSERT INTO order_mq_tab VALUES ('mq-101', '{}', 2), ('mq-102', '{}', 1)")
    await c.query("INSERT INTO consumer_mq_tab (messageId, messageStatus, addTime) VALUES ('mq-101', 1, NOW(3) - INTERVAL 1 HOUR)")
    await world.redis.client.hset(`${world.redis.prefix}ord:101`, 'status', '10')
  })
  afterAll(async () => {
    await c?.end()
    await db?.drop()
  })

  const run = (args: string[]) => runCli(['trace', '--config', file, ...args], {env: cliEnv({db, vhost: world.vhost, redis: world.redis})})

  it('an integer order id traced to a consistent verdict; what the schema lacks is unknown, never guessed', async () => {
    const r = await run(['101', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const json = JSON.parse(r.stdout)
    expect(json).toMatchObject({kind: 'order', order: {id: '101', status: '10', createdAt: null}, cache: {state: 'equal', value: '10'}, verdict: {state: 'consistent'}})
    expect(json.order.unknown).toEqual(['createdAt', 'updatedAt'])
    expect(json.outbox[0]).toMatchObject({state: 'sent', status: '2', exchange: 'order_exchange', sentAt: null})
    expect(json.outbox[0].unknown).toEqual(expect.arrayContaining(['aggregateId', 'createdAt', 'sentAt']))
    expect(json.inbox[0]).toMatchObject({consumer: null, state: 'processed'})
    const human = await run(['101'])
    expect(human.stdout).toMatch(/unknown/)
  })

  it('a pending row without a time column: stuck, its age said to be unknown; a word where an integer id is expected is found nowhere', async () => {
    const r = await run(['mq-102', '--json'])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout).verdict).toEqual({state: 'stuck', text: 'stuck: pending (for how long is unknown: no time column)'})
    const word = await run(['101 OR 1=1'])
    expect(word.code).toBe(2)
    expect(word.stderr).toContain('"101 OR 1=1"')
  })
})
