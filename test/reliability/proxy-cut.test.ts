import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {startProxy} from './helpers/proxy.js'
import {createWorld, figure, type World} from './helpers/setup.js'
import {errorLines, makeDeadLetters, outboxByStatus, QueueRecorder, seedOutbox, spawnCli, waitFor} from './helpers/world.js'

type Service = 'amqp' | 'mysql' | 'redis'
const PORTS: Record<Service, number> = {amqp: 5672, mysql: 3306, redis: 6379}
/** How long a command may take to give up after its connection was cut, before the test calls it a hang. */
const BOUND_MS = 30_000

let world: World
let orders: QueueRecorder
let work: QueueRecorder
let dir: string

beforeAll(async () => {
  world = await createWorld('rel_proxy')
  orders = new QueueRecorder(await world.newChannel(), 'orders.q')
  await orders.start()
  dir = mkdtempSync(join(tmpdir(), 'msgops-rel-proxy-'))
})

afterAll(async () => {
  await orders?.stop()
  await work?.stop()
  await world?.cleanup()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

/** The CLI environment with one service reached through the proxy on port. */
function through(service: Service, port: number): Record<string, string> {
  const env = {...world.env}
  if (service === 'amqp') env.MSGOPS_AMQP_URL = world.vhost.amqpUrl.replace(':5672', `:${port}`)
  if (service === 'mysql') env.MSGOPS_MYSQL_URL = world.db.url.replace(':3306', `:${port}`)
  if (service === 'redis') env.MSGOPS_REDIS_URL = `redis://127.0.0.1:${port}`
  return env
}

function expectCleanExit2(result: {code: number | null; stderr: string}, pattern: RegExp): string {
  expect(result.code, `stderr: ${result.stderr}`).toBe(2)
  const lines = errorLines(result as never)
  expect(lines, result.stderr).toHaveLength(1)
  expect(result.stderr).not.toContain('    at ')
  // Soft: a vague line is a defect, but the data checks after it must still run.
  expect.soft(lines[0], 'the line should name the service that failed').toMatch(pattern)
  return lines[0]
}

describe('a connection cut in the middle of outbox drain', () => {
  const cases: {service: Service; mode: 'reset' | 'silent'; rows: number; args: string[]; line: RegExp}[] = [
    {service: 'amqp', mode: 'reset', rows: 5000, args: [], line: /RabbitMQ/},
    {service: 'amqp', mode: 'silent', rows: 5000, args: ['--timeout', '3s'], line: /RabbitMQ/},
    {service: 'mysql', mode: 'reset', rows: 5000, args: [], line: /MySQL/},
    // A partitioned MySQL: only a query timeout can notice it.
    {service: 'mysql', mode: 'silent', rows: 5000, args: ['--timeout', '3s'], line: /MySQL/},
    // The lock is renewed every 10 s: a slow drain (--rate) is still running when the renewal meets the cut.
    {service: 'redis', mode: 'reset', rows: 4000, args: ['--rate', '250'], line: /Redis|lock/},
  ]
  for (const c of cases)
    it(`${c.service} (${c.mode}): exits 2 with one line, and every row marked sent is in the queue`, async () => {
      const prefix = `cut-${c.service}-${c.mode}`
      const ids = await seedOutbox(world.conn, c.rows, prefix, 'orders.x', 'order.created')
      await world.redis.client.del(`${world.redis.prefix}lock:outbox-drain`)
      const proxy = await startProxy(PORTS[c.service])
      try {
        const seen = orders.total
        const run = spawnCli(['outbox', 'drain', '--yes', '--batch', '100', ...c.args], through(c.service, proxy.port), BOUND_MS + 5_000)
        // In the middle: several batches of 100 already published (some committed), more to come.
        await waitFor('a few published batches', () => orders.total > seen + 350, 60_000, 10)
        const cutAt = Date.now()
        proxy.cut(c.mode)
        const result = await run.result
        const exitMs = Date.now() - cutAt
        const line = expectCleanExit2(result, c.line)
        expect(exitMs).toBeLessThan(BOUND_MS)
        const byStatus = await outboxByStatus(world.conn)
        const sent = (byStatus.get('sent') ?? []).filter((id) => id.startsWith(prefix))
        expect(await orders.settle(sent, 15_000)).toEqual([])
        expect(byStatus.get('dead_letter') ?? []).toEqual([])
        // The partition ends: the server sees the dead run's sessions close and rolls back what they held. Until then
        // a silent session keeps its rows locked (SKIP LOCKED passes over them), which delays them but loses nothing.
        await proxy.close()
        // Whatever the cut left pending goes on the next run, with the same message ids.
        // A run that lost Redis could not release its lock: it would expire after its 30 s TTL; we clear it instead of waiting.
        await world.redis.client.del(`${world.redis.prefix}lock:outbox-drain`)
        const final = await runCli(['outbox', 'drain', '--yes'], {env: world.env, timeoutMs: 120_000})
        expect(final.code, final.stderr).toBe(0)
        expect(await orders.settle(ids, 30_000)).toEqual([])
        figure(`proxy-cut drain ${c.service} ${c.mode}`, {rows: c.rows, sentBeforeCut: sent.length, exitAfterCutMs: exitMs, line})
      } finally {
        await proxy.close()
      }
    })
})

describe('a connection cut in the middle of dlq replay', () => {
  const MESSAGES = 3000
  let ids: string[] = []
  let round = 0

  beforeAll(async () => {
    work = new QueueRecorder(await world.newChannel(), 'work.q')
  })

  const cases: {service: Service; args: string[]; line: RegExp}[] = [
    {service: 'amqp', args: [], line: /RabbitMQ|replay stopped/},
    // The audit record is written to MySQL at the end: a dead MySQL is reported, the moved messages stay moved.
    {service: 'mysql', args: [], line: /MySQL/},
    // The lock is renewed every 10 s: a slow replay (--rate) is still running when the renewal meets the cut.
    {service: 'redis', args: ['--rate', '150'], line: /Redis|lock/},
  ]
  for (const c of cases)
    it(`${c.service}: exits 2 with one line, and every dead letter is in its queue or still in the DLQ`, async () => {
      round++
      ids = await makeDeadLetters(world.channel, MESSAGES, `cut-r${round}`)
      await work.start()
      const proxy = await startProxy(PORTS[c.service])
      try {
        const seen = work.total
        const run = spawnCli(['dlq', 'replay', 'work.dlq', '--yes', '--idle', '1s', ...c.args], through(c.service, proxy.port), BOUND_MS + 5_000)
        await waitFor('the first replayed message', () => work.total > seen, 60_000, 10)
        const cutAt = Date.now()
        proxy.cut('reset')
        const result = await run.result
        const exitMs = Date.now() - cutAt
        const line = expectCleanExit2(result, c.line)
        expect(exitMs).toBeLessThan(BOUND_MS)
        await work.quiet(300, 30_000)
        await waitFor('the cut consumer to be gone', async () => (await world.channel.checkQueue('work.dlq')).consumerCount === 0, 30_000)
        const inDlq = (await world.channel.checkQueue('work.dlq')).messageCount
        const moved = ids.filter((id) => work.counts.has(id)).length
        expect(inDlq + moved).toBeGreaterThanOrEqual(MESSAGES)
        // The rest moves on the next run.
        await world.redis.client.del(`${world.redis.prefix}lock:dlq-replay:work.dlq`)
        const final = await runCli(['dlq', 'replay', 'work.dlq', '--yes', '--idle', '1s'], {env: world.env, timeoutMs: 120_000})
        expect(final.code, final.stderr).toBe(0)
        expect(await work.settle(ids, 30_000)).toEqual([])
        figure(`proxy-cut replay ${c.service}`, {messages: MESSAGES, movedBeforeCut: moved, exitAfterCutMs: exitMs, line})
      } finally {
        await proxy.close()
        await work.stop()
      }
    })
})

describe('a connection cut in the middle of reconcile', () => {
  const ORDERS = 20_000

  beforeAll(async () => {
    const created = new Date(Date.now() - 3_600_000)
    for (let i = 0; i < ORDERS; i += 2000) {
      // Old enough on both timestamps to be checked; no cache key: every order is a cache_drift finding, read from Redis.
      const chunk = Array.from({length: Math.min(2000, ORDERS - i)}, (_, j) => [`o-${i + j}`, `m-${i + j}`, 'paid', created, created])
      await world.conn.query('INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES ?', [chunk])
    }
    writeFileSync(join(dir, 'reconcile.yaml'), `cache:\n  keyPattern: "${world.redis.prefix}order:{id}"\n`)
  })

  async function snapshot(): Promise<string> {
    const [rows] = await world.conn.query(
      `SELECT (SELECT COUNT(*) FROM orders) AS o, (SELECT COUNT(*) FROM outbox) AS ob, (SELECT COUNT(*) FROM inbox) AS ib,
        (SELECT COUNT(*) FROM outbox WHERE status = 'sent') AS s, (SELECT COUNT(*) FROM msgops_audit) AS a`,
    )
    return JSON.stringify(rows)
  }

  const cases: {service: Service; args: string[]; bytes: number; line: RegExp}[] = [
    {service: 'mysql', args: [], bytes: 100_000, line: /MySQL/},
    {service: 'redis', args: ['--check', 'cache_drift'], bytes: 5_000, line: /Redis/},
  ]
  for (const c of cases)
    it(`${c.service}: exits 2 with one line and changes nothing`, async () => {
      const before = await snapshot()
      await world.redis.client.del(`${world.redis.prefix}lock:reconcile`)
      const proxy = await startProxy(PORTS[c.service])
      try {
        const run = spawnCli(['reconcile', '--since', '7d', '--batch-size', '200', '--config', join(dir, 'reconcile.yaml'), ...c.args], through(c.service, proxy.port), BOUND_MS + 5_000)
        await proxy.waitForBytes(c.bytes, 60_000)
        const cutAt = Date.now()
        proxy.cut('reset')
        const result = await run.result
        const exitMs = Date.now() - cutAt
        const line = expectCleanExit2(result, c.line)
        expect(exitMs).toBeLessThan(BOUND_MS)
        expect(await snapshot()).toBe(before)
        figure(`proxy-cut reconcile ${c.service}`, {orders: ORDERS, bytesBeforeCut: proxy.fromServer, exitAfterCutMs: exitMs, line})
      } finally {
        await proxy.close()
      }
    })
})
