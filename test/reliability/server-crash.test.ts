import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import amqp, {type Channel, type ChannelModel} from 'amqplib'
import {Redis} from 'ioredis'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {figure, random} from './helpers/setup.js'
import {PrivateServers, type PrivateMariaDb, type PrivateRabbit, type PrivateRedis, type ServerProcess} from './helpers/servers.js'
import {errorLines, makeDeadLetters, seedOutbox, spawnCli, takeAll, waitFor} from './helpers/world.js'

/**
 * The servers themselves crash (issue 23): private MariaDB, RabbitMQ and Redis (helpers/servers.ts) are killed -9 in
 * the middle of a drain, a replay and a `reconcile --fix`, several times, and started again on the same data.
 * msgops must exit 2 with one line naming the service within BOUND_MS of the kill; after the restart nothing is lost
 * and nothing is marked sent whose message is not in the queue (persistent messages on durable queues, InnoDB with
 * its default durability: innodb_flush_log_at_trx_commit = 1).
 */
const BOUND_MS = 30_000
const SECRET = `pw-${Math.random().toString(36).slice(2)}-crash`
const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)
const rand = random(seed)

let servers: PrivateServers
let my: PrivateMariaDb
let mq: PrivateRabbit
let rd: PrivateRedis
let env: Record<string, string>
let dir: string

/** The MySQL URL without its password: msgops gets it from MSGOPS_MYSQL_PASSWORD, so it can never be on its command line. */
const mysqlUrl = () => `mysql://msgops@127.0.0.1:${my.port}/crash`

beforeAll(async () => {
  servers = new PrivateServers('msgops-crash')
  dir = mkdtempSync(join(tmpdir(), 'msgops-crash-cfg-'))
  ;[my, mq, rd] = await Promise.all([servers.mariadb(), servers.rabbit(), servers.redis()])
  await my.sql(`CREATE DATABASE crash; CREATE USER msgops@'127.0.0.1' IDENTIFIED BY '${SECRET}'; GRANT ALL ON *.* TO msgops@'127.0.0.1'`)
  env = {
    MSGOPS_MYSQL_URL: mysqlUrl(),
    MSGOPS_MYSQL_PASSWORD: SECRET,
    MSGOPS_AMQP_URL: mq.url(),
    MSGOPS_REDIS_URL: rd.url(),
    // Nothing listens there: none of these commands needs the management API.
    MSGOPS_MANAGEMENT_URL: 'http://guest:guest@127.0.0.1:1',
  }
  const init = await runCli(['schema', 'init'], {env})
  expect(init.code, init.stderr).toBe(0)
  await withBroker(async (ch) => {
    await ch.assertExchange('orders.x', 'topic', {durable: true})
    await ch.assertQueue('orders.q', {durable: true})
    await ch.bindQueue('orders.q', 'orders.x', 'order.#')
  })
}, 180_000)

afterAll(async () => {
  await servers?.cleanup()
  if (dir) rmSync(dir, {recursive: true, force: true})
}, 60_000)

/** A fresh connection for each look: the test's own connections die with the server too. */
async function withSql<T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({host: '127.0.0.1', port: my.port, user: 'msgops', password: SECRET, database: 'crash'})
  try {
    return await work(conn)
  } finally {
    await conn.end().catch(() => {})
  }
}

async function withBroker<T>(work: (channel: Channel, model: ChannelModel) => Promise<T>): Promise<T> {
  const model = await amqp.connect(mq.url())
  try {
    return await work(await model.createChannel(), model)
  } finally {
    await model.close().catch(() => {})
  }
}

async function depth(queue: string): Promise<number> {
  return withBroker(async (ch) => (await ch.checkQueue(queue)).messageCount).catch(() => -1)
}

/** Exit 2, exactly one line naming the service, no stack, no secret. */
function expectCleanExit2(result: {code: number | null; stdout: string; stderr: string}, service: RegExp): string {
  expect(result.code, `stderr: ${result.stderr}`).toBe(2)
  const lines = errorLines(result as never)
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(service)
  expect(result.stderr).not.toContain('    at ')
  expect(`${result.stdout}${result.stderr}`).not.toContain(SECRET)
  expect(`${result.stdout}${result.stderr}`).not.toContain('guest:guest')
  return lines[0]
}

async function statuses(prefix: string): Promise<Map<string, string[]>> {
  return withSql(async (conn) => {
    const [rows] = await conn.query('SELECT id, status, attempts FROM outbox WHERE id LIKE ?', [`${prefix}%`])
    const map = new Map<string, string[]>()
    for (const r of rows as {id: string; status: string; attempts: number}[]) {
      // A crash is never a failed attempt: only a broker's answer (returned, nacked) adds one.
      expect(r.attempts, r.id).toBe(0)
      if (!map.has(r.status)) map.set(r.status, [])
      map.get(r.status)!.push(r.id)
    }
    return map
  })
}

/**
 * Runs `args` and kills -9 `server` once the run made `progress()` reach a random point of what is left, then waits
 * for msgops to exit and starts the server again. Returns the one line and how long msgops took to exit.
 */
async function crashDuring(server: ServerProcess, args: string[], progress: () => Promise<number>, target: number, line: RegExp) {
  const run = spawnCli(args, env, BOUND_MS + 60_000)
  let finished = false
  void run.result.then(() => (finished = true))
  await waitFor(`${target} of progress before killing ${server.name}`, async () => finished || (await progress()) >= target, 90_000, 20)
  expect(finished, 'the run finished before its moment came: the sizes are too small for this machine').toBe(false)
  const killedAt = Date.now()
  await server.kill9()
  const result = await run.result
  const exitMs = Date.now() - killedAt
  const oneLine = expectCleanExit2(result, line)
  expect(exitMs).toBeLessThan(BOUND_MS)
  const restartAt = Date.now()
  await server.start()
  return {line: oneLine, exitMs, restartMs: Date.now() - restartAt}
}

describe('kill -9 of the servers under outbox drain', () => {
  for (const c of [
    {who: 'MariaDB', rows: 6000, kills: 3, line: /MySQL/},
    {who: 'RabbitMQ', rows: 6000, kills: 2, line: /RabbitMQ/},
  ]) {
    it(`${c.who} killed ${c.kills} times mid-drain: exit 2 with one line each time; after each restart every sent row's message is in the queue; the next drain sends the rest`, async () => {
      const server = c.who === 'MariaDB' ? my : mq
      const prefix = `d-${c.who}`
      const ids = await withSql((conn) => seedOutbox(conn as never, c.rows, prefix, 'orders.x', 'order.created'))
      const arrived = new Set<string>()
      const collect = async () => {
        for (const id of await withBroker((ch) => takeAll(ch, 'orders.q'))) arrived.add(id)
      }
      const rounds: unknown[] = []
      for (let k = 0; k < c.kills; k++) {
        const pending = (await statuses(prefix)).get('pending')?.length ?? 0
        // A random point of what is left, past the first batches and well before the end.
        const target = 300 + Math.floor(rand() * (pending / (c.kills - k + 1)))
        await rd.kill9().then(() => rd.start()) // a killed drain's lock would hold for 30 s: a fresh Redis has none
        const round = await crashDuring(server, ['outbox', 'drain', '--yes', '--batch', '100'], () => depth('orders.q'), target, c.line)
        await collect()
        const byStatus = await statuses(prefix)
        const sent = byStatus.get('sent') ?? []
        expect(sent.filter((id) => !arrived.has(id)), 'rows marked sent whose message is not in the queue').toEqual([])
        expect([...byStatus.keys()].filter((s) => s !== 'sent' && s !== 'pending')).toEqual([])
        expect(sent.length + (byStatus.get('pending')?.length ?? 0)).toBe(c.rows)
        rounds.push({...round, target, sent: sent.length})
      }
      await rd.kill9().then(() => rd.start())
      const final = await runCli(['outbox', 'drain', '--yes'], {env, timeoutMs: 120_000})
      expect(final.code, final.stderr).toBe(0)
      await collect()
      expect((await statuses(prefix)).get('sent')?.length).toBe(c.rows)
      expect(ids.filter((id) => !arrived.has(id))).toEqual([])
      figure(`server-crash drain ${c.who}`, {seed, rows: c.rows, rounds, starts: server.starts})
    })
  }
})

describe('kill -9 of RabbitMQ under dlq replay', () => {
  it('killed twice mid-replay: exit 2 with one line; after each restart DLQ + moved >= all; the next replay moves the rest', async () => {
    const N = 3000
    const ids = await withBroker((ch) => makeDeadLetters(ch, N, 'rp'))
    const moved = new Set<string>()
    const collect = async () => {
      for (const id of await withBroker((ch) => takeAll(ch, 'work.q'))) moved.add(id)
    }
    const rounds: unknown[] = []
    for (let k = 0; k < 2; k++) {
      const left = await depth('work.dlq')
      const target = 100 + Math.floor(rand() * (left / 3))
      await rd.kill9().then(() => rd.start())
      const round = await crashDuring(mq, ['dlq', 'replay', 'work.dlq', '--yes', '--idle', '1s'], () => depth('work.q'), target, /RabbitMQ|replay stopped/)
      await collect()
      const inDlq = await depth('work.dlq')
      expect(inDlq + moved.size, 'a dead letter missing from both the DLQ and its queue').toBeGreaterThanOrEqual(N)
      rounds.push({...round, target, moved: moved.size, inDlq})
    }
    await rd.kill9().then(() => rd.start())
    const final = await runCli(['dlq', 'replay', 'work.dlq', '--yes', '--idle', '1s'], {env, timeoutMs: 120_000})
    expect(final.code, final.stderr).toBe(0)
    await collect()
    expect(await depth('work.dlq')).toBe(0)
    expect(ids.filter((id) => !moved.has(id))).toEqual([])
    figure('server-crash replay RabbitMQ', {seed, messages: N, rounds, starts: mq.starts})
  })
})

describe('kill -9 of the servers under reconcile --fix', () => {
  const STUCK = 4000
  const ORDERS = 40_000
  let config: string

  beforeAll(async () => {
    config = join(dir, 'reconcile.yaml')
    writeFileSync(config, 'cache:\n  keyPattern: "order:{id}"\n')
    await withSql(async (conn) => {
      const old = new Date(Date.now() - 3_600_000)
      // Stuck orders: an order and its pending outbox row (message_stuck, drained by the fix); the others are sent
      // rows whose cache key is missing (cache_drift, written by the fix).
      for (let i = 0; i < ORDERS; i += 2000) {
        const chunk = Array.from({length: Math.min(2000, ORDERS - i)}, (_, j) => [`o-${i + j}`, `m-${i + j}`, 'paid', old, old])
        await conn.query('INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES ?', [chunk])
        const rows = chunk.map(([o, m], j) => [m, 'order', o, 'order.created', 'orders.x', 'order.created', '{}', i + j < STUCK ? 'pending' : 'sent', old, i + j < STUCK ? null : old])
        await conn.query('INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload, status, created_at, sent_at) VALUES ?', [rows])
        const consumed = rows.filter((r) => r[7] === 'sent').map((r) => [r[0], 'billing', 'processed', old])
        if (consumed.length > 0) await conn.query('INSERT INTO inbox (message_id, consumer, status, received_at) VALUES ?', [consumed])
      }
    })
  })

  async function keys(): Promise<number> {
    const client = new Redis(rd.url(), {lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null})
    try {
      await client.connect()
      return await client.dbsize()
    } catch {
      return -1
    } finally {
      client.disconnect()
    }
  }

  const fix = ['reconcile', '--fix', '--yes', '--since', '7d', '--batch-size', '200']

  it('MariaDB killed while the fix drains the stuck rows, Redis killed while it rewrites the cache: exit 2 with one line each; the next --fix repairs everything, nothing sent is missing from the queue', async () => {
    const arrived = new Set<string>()
    const collect = async () => {
      for (const id of await withBroker((ch) => takeAll(ch, 'orders.q'))) arrived.add(id)
    }
    await collect()
    const stuckIds = Array.from({length: STUCK}, (_, i) => `m-${i}`)
    const sentNotArrived = async () => {
      const sent = await withSql(async (conn) => (await conn.query("SELECT id FROM outbox WHERE status = 'sent' AND id IN (?)", [stuckIds]))[0] as {id: string}[])
      return sent.map((r) => r.id).filter((id) => !arrived.has(id))
    }
    // MariaDB, during the drain of the stuck rows (--check message_stuck: the messages are the progress).
    await rd.kill9().then(() => rd.start())
    const mysqlRound = await crashDuring(my, [...fix, '--check', 'message_stuck', '--config', config], () => depth('orders.q'), 300 + Math.floor(rand() * 1500), /MySQL/)
    await collect()
    expect(await sentNotArrived(), 'rows marked sent whose message is not in the queue').toEqual([])
    // Redis, during the cache rewrite (--check cache_drift: the keys written are the progress). It comes back empty.
    await rd.kill9().then(() => rd.start())
    const redisRound = await crashDuring(rd, [...fix, '--check', 'cache_drift', '--config', config], keys, 2000 + Math.floor(rand() * 10_000), /Redis|lock/)
    // The next run repairs both; a second one finds nothing left.
    const again = await runCli([...fix, '--check', 'message_stuck', '--check', 'cache_drift', '--config', config, '--json'], {env, timeoutMs: 180_000})
    expect(again.code, again.stderr).toBe(0)
    await collect()
    expect(await sentNotArrived()).toEqual([])
    const stuck = await withSql(async (conn) => (await conn.query("SELECT COUNT(*) AS n FROM outbox WHERE status <> 'sent'"))[0] as {n: number}[])
    expect(Number(stuck[0].n)).toBe(0)
    expect(stuckIds.filter((id) => !arrived.has(id)), 'a stuck row drained but its message not in the queue').toEqual([])
    expect(await keys()).toBe(ORDERS)
    const clean = await runCli(['reconcile', '--since', '7d', '--check', 'message_stuck', '--check', 'cache_drift', '--config', config, '--json'], {env, timeoutMs: 120_000})
    expect(clean.code, clean.stderr).toBe(0)
    figure('server-crash reconcile --fix', {seed, stuck: STUCK, orders: ORDERS, mysql: mysqlRound, redis: redisRound})
  })
})
