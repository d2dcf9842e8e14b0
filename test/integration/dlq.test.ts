import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import amqp, {type Channel, type ChannelModel} from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

const EXCHANGE = 'order_exchange'
const QUEUE = 'order_queue'
const DLX = 'order_exchange.dlx'
const DLQ = 'order_queue.dlq'

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let conn: ChannelModel
let ch: Channel
let env: Record<string, string>

/** The design's topology, declared here so that this file depends on nothing but the broker. */
async function declareTopology(): Promise<void> {
  await ch.assertExchange(EXCHANGE, 'topic', {durable: true})
  await ch.assertExchange(DLX, 'fanout', {durable: true})
  await ch.assertQueue(QUEUE, {durable: true, arguments: {'x-dead-letter-exchange': DLX}})
  await ch.bindQueue(QUEUE, EXCHANGE, 'order.*')
  await ch.assertQueue(DLQ, {durable: true})
  await ch.bindQueue(DLQ, DLX, '')
}

async function depth(queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

interface Spec {
  id: string
  routingKey: string
  headers?: Record<string, unknown>
  /** Other AMQP properties of the original publish. */
  properties?: amqp.Options.Publish
}

/** Publishes to order_exchange, then a consumer of order_queue rejects each without requeue: genuine x-death. */
async function deadLetter(specs: Spec[]): Promise<void> {
  const before = await depth(DLQ)
  for (const s of specs)
    ch.publish(EXCHANGE, s.routingKey, Buffer.from(JSON.stringify({order: s.id})), {messageId: s.id, contentType: 'application/json', headers: s.headers, persistent: true, ...s.properties})
  await waitFor(async () => (await depth(QUEUE)) === specs.length, 'order_queue to fill')
  const consumer = await conn.createChannel()
  await consumer.prefetch(50)
  let rejected = 0
  await consumer.consume(QUEUE, (msg) => {
    if (!msg) return
    consumer.nack(msg, false, false)
    rejected++
  })
  await waitFor(async () => rejected === specs.length && (await depth(DLQ)) === before + specs.length, 'dead letters')
  await consumer.close()
}

/** Takes every message out of a queue (acked), in order. */
async function drain(queue: string): Promise<{id: string; body: string; headers: Record<string, unknown>; redelivered: boolean}[]> {
  const out = []
  for (;;) {
    const msg = await ch.get(queue, {noAck: true})
    if (!msg) return out
    out.push({id: String(msg.properties.messageId), body: msg.content.toString(), headers: msg.properties.headers ?? {}, redelivered: msg.fields.redelivered})
  }
}

const specs = (n: number, routingKey: string, prefix: string): Spec[] => Array.from({length: n}, (_, i) => ({id: `${prefix}-${i}`, routingKey}))

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase(), createTestVhost(), createTestRedis()] as const)
  env = cliEnv({db, vhost, redis})
  conn = await amqp.connect(vhost.amqpUrl)
  ch = await conn.createChannel()
  await declareTopology()
})

afterAll(async () => {
  await conn?.close().catch(() => {})
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
})

beforeEach(async () => {
  await ch.purgeQueue(QUEUE)
  await ch.purgeQueue(DLQ)
})

describe('dlq inspect', () => {
  it('groups by first death and routing key, shows samples, and leaves the depth unchanged', async () => {
    await deadLetter([...specs(3, 'order.created', 'c'), ...specs(2, 'order.paid', 'p')])
    const res = await runCli(['dlq', 'inspect', DLQ, '--sample', '2', '--json'], {env})
    expect(res.stderr).toBe('')
    expect(res.code).toBe(1)
    const report = JSON.parse(res.stdout)
    expect(report.queue).toBe(DLQ)
    expect(report.depth).toBe(5)
    expect(report.read).toBe(5)
    expect(report.groups.map((g: {count: number; reason: string; queue: string; exchange: string; routingKey: string}) => [g.count, g.reason, g.queue, g.exchange, g.routingKey])).toEqual([
      [3, 'rejected', QUEUE, EXCHANGE, 'order.created'],
      [2, 'rejected', QUEUE, EXCHANGE, 'order.paid'],
    ])
    expect(report.groups[0].key).toMatch(/^[0-9a-f]{8}$/)
    expect(report.groups[0].oldest).toMatch(/^\d{4}-/)
    expect(report.samples).toHaveLength(2)
    expect(report.samples[0].messageId).toBe('c-0')
    expect(report.samples[0].body).toBe('{"order":"c-0"}')
    expect(report.samples[0].headers['x-first-death-reason']).toBe('rejected')
    // Nothing taken out, and the order is the same.
    expect(await depth(DLQ)).toBe(5)
    const left = await drain(DLQ)
    expect(left.map((m) => m.id)).toEqual(['c-0', 'c-1', 'c-2', 'p-0', 'p-1'])
    expect(left.every((m) => m.redelivered)).toBe(true)
  })

  it('reads at most --max and says the queue does not exist by name', async () => {
    await deadLetter(specs(4, 'order.created', 'm'))
    const res = await runCli(['dlq', 'inspect', DLQ, '--max', '2', '--json'], {env})
    const report = JSON.parse(res.stdout)
    expect([report.depth, report.read, report.complete]).toEqual([4, 2, false])
    expect(await depth(DLQ)).toBe(4)
    const missing = await runCli(['dlq', 'inspect', 'no_such_queue'], {env})
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/queue "no_such_queue" does not exist/)
  })

  it('groups by the error headers of dlq.errorHeaders in the configuration; --error-header overrides it', async () => {
    const failed = (id: string, appError: string): Spec => ({id, routingKey: 'order.created', headers: {'x-error': 'consumer failed', 'x-app-error': appError}})
    await deadLetter([failed('e-0', 'stock exhausted'), failed('e-1', 'bad address'), failed('e-2', 'stock exhausted'), failed('e-3', 'stock exhausted')])
    const dir = await mkdtemp(join(tmpdir(), 'msgops-dlq-'))
    const config = join(dir, 'msgops.yaml')
    await writeFile(config, 'dlq:\n  errorHeaders: [x-app-error]\n')
    const groupsOf = async (args: string[]) => {
      const res = await runCli(['dlq', 'inspect', DLQ, '--json', ...args], {env})
      expect(res.code, res.stderr).toBe(1)
      return JSON.parse(res.stdout).groups.map((g: {count: number; error?: string}) => [g.count, g.error])
    }
    try {
      // The built-in list finds x-error, which every message carries: one group.
      expect(await groupsOf([])).toEqual([[4, 'consumer failed']])
      expect(await groupsOf(['--config', config])).toEqual([[3, 'stock exhausted'], [1, 'bad address']])
      expect(await groupsOf(['--config', config, '--error-header', 'x-error'])).toEqual([[4, 'consumer failed']])
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
    expect(await depth(DLQ)).toBe(4)
  })
})

describe('dlq replay', () => {
  it('sends real dead letters back to their original queue with body and message id, then audits', async () => {
    await deadLetter(specs(6, 'order.created', 'r'))
    const res = await runCli(['dlq', 'replay', DLQ, '--yes', '--json'], {env})
    expect(res.stderr).toBe('')
    expect(res.code).toBe(0)
    const report = JSON.parse(res.stdout)
    expect([report.moved, report.failed, report.skipped, report.left]).toEqual([6, 0, 0, 0])
    expect(report.targets).toEqual([{exchange: EXCHANGE, routingKey: 'order.created', count: 6}])
    expect(await depth(DLQ)).toBe(0)
    await waitFor(async () => (await depth(QUEUE)) === 6, 'replayed messages')
    const back = await drain(QUEUE)
    expect(back.map((m) => m.id)).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4', 'r-5'])
    expect(back[0].body).toBe('{"order":"r-0"}')
    expect(back[0].headers['x-msgops-replay-count']).toBe(1)
    expect(back[0].headers['x-msgops-replayed-at']).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(back[0].headers['x-death']).toBeDefined()
    const sql = await mysql.createConnection(db.url)
    const [rows] = await sql.query('SELECT command, outcome, exit_code FROM msgops_audit')
    await sql.end()
    expect(rows).toHaveLength(1)
    expect((rows as {command: string}[])[0].command).toBe('dlq:replay')
  })

  it('keeps every AMQP property of the dead letter on the replayed copy', async () => {
    // The publisher builds amqplib's options field by field (one shape for speed): none may be dropped on the way.
    const properties = {contentEncoding: 'identity', correlationId: 'corr-1', replyTo: 'replies', priority: 3, timestamp: 1_764_547_200, type: 'order.created', userId: 'guest', appId: 'shop'}
    await deadLetter([{id: 'props-1', routingKey: 'order.created', headers: {'x-trace': 'abc'}, properties}])
    const res = await runCli(['dlq', 'replay', DLQ, '--yes', '--json'], {env})
    expect(res.code, res.stderr).toBe(0)
    await waitFor(async () => (await depth(QUEUE)) === 1, 'the replayed message')
    const msg = await ch.get(QUEUE, {noAck: true})
    expect(msg && msg.properties).toMatchObject({...properties, messageId: 'props-1', contentType: 'application/json', deliveryMode: 2})
    expect(msg && msg.properties.headers?.['x-trace']).toBe('abc')
  })

  it('moves only what the filters match and leaves the rest in order', async () => {
    await deadLetter([
      {id: 'a-0', routingKey: 'order.created'},
      {id: 'b-0', routingKey: 'order.paid', headers: {'x-tenant': 'acme'}},
      {id: 'a-1', routingKey: 'order.created'},
      {id: 'b-1', routingKey: 'order.paid', headers: {'x-tenant': 'other'}},
      {id: 'a-2', routingKey: 'order.created'},
      {id: 'b-2', routingKey: 'order.paid', headers: {'x-tenant': 'acme'}},
    ])
    // A prefetch of 2 makes the reader hold more messages than its window: it must not stall.
    const res = await runCli(['dlq', 'replay', DLQ, '--routing-key', 'order.p*', '--header', 'x-tenant=acme', '--prefetch', '2', '--yes', '--json'], {env})
    const report = JSON.parse(res.stdout)
    expect([report.moved, report.failed, report.skipped, report.left]).toEqual([2, 0, 0, 4])
    await waitFor(async () => (await depth(QUEUE)) === 2, 'replayed messages')
    expect((await drain(QUEUE)).map((m) => m.id)).toEqual(['b-0', 'b-2'])
    expect((await drain(DLQ)).map((m) => m.id)).toEqual(['a-0', 'a-1', 'b-1', 'a-2'])
  })

  it('acks at each confirm around held messages: the left and skipped ones stay, in order, the others move once', async () => {
    // 1,200 in one window, one in three not matching the filter and one in seven at --max-replays, spread among the
    // movers: the acks of confirmed ones above a held one go alone, never as a `multiple` covering it.
    const all: Spec[] = Array.from({length: 1200}, (_, i) => ({
      id: `w-${i}`,
      routingKey: 'order.created',
      headers: {'x-tenant': i % 3 === 1 ? 'other' : 'acme', ...(i % 7 === 3 ? {'x-msgops-replay-count': 5} : {})},
    }))
    await deadLetter(all)
    const res = await runCli(['dlq', 'replay', DLQ, '--header', 'x-tenant=acme', '--yes', '--json'], {env})
    // Exit 1: some were skipped (at --max-replays).
    expect(res.code, res.stderr).toBe(1)
    const report = JSON.parse(res.stdout)
    const held = all.filter((s, i) => i % 3 === 1 || i % 7 === 3)
    const left = all.filter((s, i) => i % 3 === 1)
    expect([report.read, report.moved, report.failed, report.skipped, report.left]).toEqual([1200, 1200 - held.length, 0, held.length - left.length, left.length])
    await waitFor(async () => (await depth(QUEUE)) === 1200 - held.length, 'replayed messages')
    expect((await drain(QUEUE)).map((m) => m.id)).toEqual(all.filter((s) => !held.includes(s)).map((s) => s.id))
    expect((await drain(DLQ)).map((m) => m.id)).toEqual(held.map((s) => s.id))
  })

  it('group keys from inspect, --limit and --dry-run', async () => {
    await deadLetter([...specs(3, 'order.created', 'g'), ...specs(2, 'order.paid', 'h')])
    const inspect = JSON.parse((await runCli(['dlq', 'inspect', DLQ, '--json'], {env})).stdout)
    const paid = inspect.groups.find((g: {routingKey: string}) => g.routingKey === 'order.paid').key
    const dry = JSON.parse((await runCli(['dlq', 'replay', DLQ, '--group', paid, '--dry-run', '--json'], {env})).stdout)
    expect([dry.dryRun, dry.moved, dry.left]).toEqual([true, 2, 3])
    expect(dry.targets).toEqual([{exchange: EXCHANGE, routingKey: 'order.paid', count: 2}])
    expect(await depth(DLQ)).toBe(5)
    expect(await depth(QUEUE)).toBe(0)
    const limited = JSON.parse((await runCli(['dlq', 'replay', DLQ, '--limit', '2', '--yes', '--json'], {env})).stdout)
    expect(limited.moved).toBe(2)
    await waitFor(async () => (await depth(QUEUE)) === 2, 'replayed messages')
    expect((await drain(DLQ)).map((m) => m.id)).toEqual(['g-2', 'h-0', 'h-1'])
  })

  it('leaves a message replayed --max-replays times in place and reports it', async () => {
    await deadLetter([{id: 'loop', routingKey: 'order.created', headers: {'x-msgops-replay-count': 2}}, {id: 'fresh', routingKey: 'order.created'}])
    const res = await runCli(['dlq', 'replay', DLQ, '--max-replays', '2', '--yes', '--json'], {env})
    expect(res.code).toBe(1)
    const report = JSON.parse(res.stdout)
    expect([report.moved, report.skipped]).toEqual([1, 1])
    expect(report.skips[0]).toMatchObject({messageId: 'loop', why: 'max-replays', replayCount: 2})
    expect((await drain(DLQ)).map((m) => m.id)).toEqual(['loop'])
  })

  it('an unroutable target leaves the dead letter in the queue, counted as failed', async () => {
    await deadLetter(specs(2, 'order.created', 'u'))
    const res = await runCli(['dlq', 'replay', DLQ, '--to-exchange', EXCHANGE, '--to-routing-key', 'nowhere', '--yes', '--json'], {env})
    expect(res.code).toBe(1)
    const report = JSON.parse(res.stdout)
    expect([report.moved, report.failed]).toEqual([0, 2])
    expect(report.failures[0]).toMatchObject({messageId: 'u-0', reason: 'rejected', target: {exchange: EXCHANGE, routingKey: 'nowhere'}})
    expect(report.failures[0].error).toMatch(/NO_ROUTE/)
    expect((await drain(DLQ)).map((m) => m.id)).toEqual(['u-0', 'u-1'])
  })

  it('--to-queue goes through the default exchange; a missing exchange stops the run and keeps every dead letter', async () => {
    await deadLetter(specs(3, 'order.created', 'q'))
    const gone = await runCli(['dlq', 'replay', DLQ, '--to-exchange', 'no_such_exchange', '--yes'], {env})
    expect(gone.code).toBe(2)
    expect(gone.stderr).toMatch(/exchange "no_such_exchange" does not exist/)
    expect(await depth(DLQ)).toBe(3)
    const res = await runCli(['dlq', 'replay', DLQ, '--to-queue', QUEUE, '--limit', '1', '--yes', '--json'], {env})
    expect(JSON.parse(res.stdout).targets).toEqual([{exchange: '', routingKey: QUEUE, count: 1}])
    await waitFor(async () => (await depth(QUEUE)) === 1, 'the replayed message')
    expect((await drain(QUEUE)).map((m) => m.id)).toEqual(['q-0'])
    expect((await drain(DLQ)).map((m) => m.id)).toEqual(['q-1', 'q-2'])
  })

  it('refuses without a terminal and without --yes, and changes nothing', async () => {
    await deadLetter(specs(1, 'order.created', 'n'))
    const res = await runCli(['dlq', 'replay', DLQ], {env})
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/--yes/)
    expect(await depth(DLQ)).toBe(1)
  })

  it('refuses while another run holds the lock of the queue', async () => {
    await deadLetter(specs(1, 'order.created', 'l'))
    const key = `${redis.prefix}lock:dlq-replay:${DLQ}`
    await redis.client.set(key, JSON.stringify({token: 't', host: 'otherhost', pid: 4242, since: '2026-01-01T00:00:00Z', command: 'dlq:purge'}), 'PX', 30_000)
    try {
      const res = await runCli(['dlq', 'replay', DLQ, '--yes'], {env})
      expect(res.code).toBe(2)
      expect(res.stderr).toMatch(/held by otherhost\/4242/)
      expect(await depth(DLQ)).toBe(1)
    } finally {
      await redis.client.del(key)
    }
  })
})

describe('dlq purge', () => {
  it('with --archive writes every message before removing it', async () => {
    await deadLetter(specs(5, 'order.created', 'x'))
    const file = join(tmpdir(), `msgops-dlq-${process.pid}-${Date.now()}.jsonl`)
    try {
      const res = await runCli(['dlq', 'purge', DLQ, '--archive', file, '--prefetch', '2', '--yes', '--json'], {env})
      expect(res.stderr).toBe('')
      const report = JSON.parse(res.stdout)
      expect([report.purged, report.archived]).toEqual([5, 5])
      expect(await depth(DLQ)).toBe(0)
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
      expect(lines.map((l) => l.messageId)).toEqual(['x-0', 'x-1', 'x-2', 'x-3', 'x-4'])
      expect(lines[0].body).toBe('{"order":"x-0"}')
      expect(lines[0].headers['x-first-death-queue']).toBe(QUEUE)
    } finally {
      await rm(file, {force: true})
    }
  })
})
