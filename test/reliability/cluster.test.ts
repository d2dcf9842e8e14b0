import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import amqp, {type Channel} from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, makeAll, runCli, type TestDatabase, type TestRedis} from '../helpers/env.js'
import {figure, random} from './helpers/setup.js'
import {PrivateServers, type PrivateRabbit} from './helpers/servers.js'
import {errorLines, seedOutbox, spawnCli, takeAll, waitFor} from './helpers/world.js'

/**
 * A RabbitMQ cluster (issue 23): three private nodes on this machine (helpers/servers.ts, joined with
 * `rabbitmqctl join_cluster`), a quorum queue and a quorum dead-letter queue. msgops is given the nodes as amqp.urls
 * and management.urls; the queue's leader node is killed -9 during a drain and during a replay. The run fails over
 * (exit 0) or exits 2 with one line; the next run connects to a node that answers, and nothing is lost.
 * MySQL and Redis are the shared services (own database and key prefix): only the broker is private here.
 */
const BOUND_MS = 30_000
const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)
const rand = random(seed)

let servers: PrivateServers
let nodes: PrivateRabbit[]
let db: TestDatabase
let redis: TestRedis
let conn: mysql.Connection
let dir: string
let base: Record<string, string>

beforeAll(async () => {
  servers = new PrivateServers('msgops-cluster')
  dir = mkdtempSync(join(tmpdir(), 'msgops-cluster-cfg-'))
  const started = Date.now()
  ;[nodes, [db, redis]] = await Promise.all([servers.rabbitCluster(3, {management: true}), makeAll<[TestDatabase, TestRedis]>([createTestDatabase('rel_cluster'), createTestRedis('rel_cluster')])])
  figure('cluster start', {nodes: 3, ms: Date.now() - started, starts: nodes.map((n) => n.starts)})
  base = cliEnv({db, redis})
  const init = await runCli(['schema', 'init'], {env: base})
  expect(init.code, init.stderr).toBe(0)
  conn = await mysql.createConnection(db.url)
  await onAnyNode(async (ch) => {
    await ch.assertExchange('orders.x', 'topic', {durable: true})
    await ch.assertQueue('orders.qq', {durable: true, arguments: {'x-queue-type': 'quorum'}})
    await ch.bindQueue('orders.qq', 'orders.x', 'order.#')
    await ch.assertExchange('work.x', 'direct', {durable: true})
    await ch.assertExchange('work.dlx', 'fanout', {durable: true})
    await ch.assertQueue('work.qq', {durable: true, arguments: {'x-queue-type': 'quorum', 'x-dead-letter-exchange': 'work.dlx'}})
    await ch.assertQueue('work.dlq', {durable: true, arguments: {'x-queue-type': 'quorum'}})
    await ch.bindQueue('work.qq', 'work.x', 'work')
    await ch.bindQueue('work.dlq', 'work.dlx', '')
  })
}, 240_000)

afterAll(async () => {
  await conn?.end().catch(() => {})
  await db?.drop().catch(() => {})
  await redis?.cleanup().catch(() => {})
  await servers?.cleanup()
  if (dir) rmSync(dir, {recursive: true, force: true})
}, 90_000)

/** Runs work on a channel of the first node that answers (the test's own view of the cluster). */
async function onAnyNode<T>(work: (ch: Channel) => Promise<T>, except?: PrivateRabbit): Promise<T> {
  let last: unknown
  for (const node of nodes) {
    if (node === except) continue
    try {
      const model = await amqp.connect(node.url())
      try {
        return await work(await model.createChannel())
      } finally {
        await model.close().catch(() => {})
      }
    } catch (error) {
      last = error
    }
  }
  throw last
}

async function depth(queue: string, except?: PrivateRabbit): Promise<number> {
  return onAnyNode(async (ch) => (await ch.checkQueue(queue)).messageCount, except).catch(() => -1)
}

/** The node that leads a quorum queue now, asked of the first node that answers. */
async function leaderOf(queue: string, except?: PrivateRabbit): Promise<PrivateRabbit> {
  let rows: {name: string; leader: string}[] | undefined
  for (const asked of nodes.filter((n) => n !== except)) {
    rows = await asked.ctl(['list_queues', 'name', 'leader', '--formatter', 'json', '-q'], 'rabbitmqctl', 20_000).then((out) => JSON.parse(out), () => undefined)
    if (rows) break
  }
  const leader = rows?.find((r) => r.name === queue)?.leader
  const node = nodes.find((n) => n.node === leader)
  if (!node) throw new Error(`no leader for ${queue}: ${JSON.stringify(rows)}`)
  return node
}

/** The nodes with `first` first, then the others in their order. */
const orderFrom = (first: PrivateRabbit) => [first, ...nodes.filter((n) => n !== first)]

/** msgops' view: amqp.urls with `first` first, then the others; management.urls likewise. */
function clusterConfig(name: string, first: PrivateRabbit): string {
  const order = orderFrom(first)
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, `amqp:\n  urls: ${JSON.stringify(order.map((n) => n.url()))}\nmanagement:\n  urls: ${JSON.stringify(order.map((n) => n.managementUrl()))}\n`)
  return file
}

function expectCleanExit(result: {code: number | null; stdout: string; stderr: string}): string | null {
  expect([0, 2], result.stderr).toContain(result.code)
  if (result.code === 0) return null
  const lines = errorLines(result as never)
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/RabbitMQ|replay stopped/)
  expect(result.stderr).not.toContain('    at ')
  expect(`${result.stdout}${result.stderr}`).not.toContain('guest:guest')
  return lines[0]
}

async function outboxSent(prefix: string): Promise<{sent: string[]; other: number}> {
  const [rows] = await conn.query('SELECT id, status FROM outbox WHERE id LIKE ?', [`${prefix}%`])
  const list = rows as {id: string; status: string}[]
  return {sent: list.filter((r) => r.status === 'sent').map((r) => r.id), other: list.filter((r) => r.status !== 'sent' && r.status !== 'pending').length}
}

describe('a three-node RabbitMQ cluster with quorum queues', () => {
  it('the quorum queue\'s leader killed -9 mid-drain while msgops is connected to it: a clean exit; the next drain connects to the next URL, nothing lost; management.urls passes over the dead node', async () => {
    const ROWS = 4000
    const ids = await seedOutbox(conn, ROWS, 'qq', 'orders.x', 'order.created')
    const leader = await leaderOf('orders.qq')
    const config = clusterConfig('drain', leader)
    const run = spawnCli(['outbox', 'drain', '--yes', '--batch', '100', '--config', config], base, BOUND_MS + 60_000)
    let finished = false
    void run.result.then(() => (finished = true))
    const target = 300 + Math.floor(rand() * 1500)
    await waitFor(`${target} messages in orders.qq`, async () => finished || (await depth('orders.qq')) >= target, 90_000, 20)
    expect(finished, 'the drain finished before the kill').toBe(false)
    const killedAt = Date.now()
    await leader.kill9()
    try {
      await afterLeaderKill()
    } finally {
      // The next cases need the three nodes again.
      if (!leader.pid() || leader.starts.length < 2) await leader.start().catch(() => {})
    }
    async function afterLeaderKill() {
    const result = await run.result
    const exitMs = Date.now() - killedAt
    const line = expectCleanExit(result)
    expect(exitMs).toBeLessThan(BOUND_MS)
    // A new leader is elected among the two left; every row marked sent has its message there.
    const newLeader = await waitFor('a new leader', async () => (await leaderOf('orders.qq', leader).catch(() => leader)) !== leader, 30_000).then(() => leaderOf('orders.qq', leader))
    const afterKill = await outboxSent('qq')
    expect(afterKill.other).toBe(0)
    // The same configuration again: its first URL is dead, the second answers.
    const again = await runCli(['outbox', 'drain', '--yes', '--config', config], {env: base, timeoutMs: 120_000})
    expect(again.code, again.stderr).toBe(0)
    const arrived = new Set(await onAnyNode((ch) => takeAll(ch, 'orders.qq'), leader))
    expect(afterKill.sent.filter((id) => !arrived.has(id)), 'rows marked sent whose message is not in the quorum queue').toEqual([])
    expect(ids.filter((id) => !arrived.has(id))).toEqual([])
    expect((await outboxSent('qq')).sent).toHaveLength(ROWS)
    // The management API of the dead node does not answer: doctor goes to the next.
    const doctor = await runCli(['doctor', '--json', '--config', config], {env: base, timeoutMs: 60_000})
    const checks = JSON.parse(doctor.stdout) as {name: string; ok: boolean; detail: string}[]
    expect(checks.find((c) => c.name === 'rabbitmq.management'), doctor.stdout).toMatchObject({ok: true})
    expect(checks.find((c) => c.name === 'rabbitmq.management')!.detail).toContain(`:${orderFrom(leader)[1].managementPort}`)
    const restartAt = Date.now()
    await leader.start()
    figure('cluster drain leader kill', {seed, rows: ROWS, target, exitMs, line, sentBeforeKill: afterKill.sent.length, leader: leader.node, newLeader: newLeader.node, restartMs: Date.now() - restartAt})
    }
  })

  it('the quorum DLQ\'s leader killed -9 mid-replay while msgops is connected to another node: it fails over or exits cleanly; DLQ + moved >= all; the next replay moves the rest', async () => {
    const N = 2000
    const ids = Array.from({length: N}, (_, i) => `dl-${String(i).padStart(6, '0')}`)
    await onAnyNode(async (ch) => {
      for (const id of ids) ch.publish('work.x', 'work', Buffer.from(JSON.stringify({id})), {messageId: id, persistent: true})
      await waitFor(`${N} in work.qq`, async () => (await ch.checkQueue('work.qq')).messageCount >= N, 60_000)
      await ch.prefetch(500)
      let rejected = 0
      const {consumerTag} = await ch.consume('work.qq', (msg) => {
        if (msg) {
          ch.nack(msg, false, false)
          rejected++
        }
      })
      await waitFor(`${N} rejected`, () => rejected >= N, 60_000)
      await ch.cancel(consumerTag)
      await waitFor(`${N} in work.dlq`, async () => (await ch.checkQueue('work.dlq')).messageCount >= N, 60_000)
    })
    const leader = await leaderOf('work.dlq')
    const follower = nodes.find((n) => n !== leader)!
    const config = clusterConfig('replay', follower)
    // The replayed copies land in work.qq again (a quorum queue too); --rate keeps the replay running long enough.
    const run = spawnCli(['dlq', 'replay', 'work.dlq', '--yes', '--idle', '2s', '--rate', '400', '--config', config], base, BOUND_MS + 120_000)
    let finished = false
    void run.result.then(() => (finished = true))
    const target = 200 + Math.floor(rand() * 600)
    await waitFor(`${target} replayed`, async () => finished || (await depth('work.qq')) >= target, 90_000, 20)
    expect(finished, 'the replay finished before the kill').toBe(false)
    await leader.kill9()
    const result = await run.result
    const line = expectCleanExit(result)
    const inDlq = await depth('work.dlq', leader)
    const moved = new Set(await onAnyNode((ch) => takeAll(ch, 'work.qq'), leader))
    expect(inDlq + moved.size, 'a dead letter missing from both the DLQ and its queue').toBeGreaterThanOrEqual(N)
    await leader.start()
    const again = await runCli(['dlq', 'replay', 'work.dlq', '--yes', '--idle', '2s', '--config', config], {env: base, timeoutMs: 120_000})
    expect(again.code, again.stderr).toBe(0)
    for (const id of await onAnyNode((ch) => takeAll(ch, 'work.qq'))) moved.add(id)
    expect(await depth('work.dlq')).toBe(0)
    expect(ids.filter((id) => !moved.has(id))).toEqual([])
    figure('cluster replay leader kill', {seed, messages: N, target, failedOver: result.code === 0, line, inDlqAfterKill: inDlq, movedAfterKill: moved.size, leader: leader.node, connectedTo: follower.node})
  })

  it('dlq inspect on a quorum DLQ with a delivery limit: each inspection is a delivery (x-delivery-count + 1), and past the limit the broker drops or dead-letters the messages', async () => {
    const N = 20
    await onAnyNode(async (ch) => {
      await ch.assertQueue('limited.dlq', {durable: true, arguments: {'x-queue-type': 'quorum', 'x-delivery-limit': 2}})
      for (let i = 0; i < N; i++) ch.sendToQueue('limited.dlq', Buffer.from('{}'), {messageId: `lim-${i}`, persistent: true})
      await waitFor(`${N} in limited.dlq`, async () => (await ch.checkQueue('limited.dlq')).messageCount >= N, 30_000)
    })
    const config = clusterConfig('inspect', nodes[0])
    // msgops refuses to read it (one line, exit 2, nothing spent) unless told that each read spends a delivery.
    const refused = await runCli(['dlq', 'inspect', 'limited.dlq', '--config', config], {env: base, timeoutMs: 60_000})
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toMatch(/^Error: limited\.dlq is a quorum queue with a delivery limit of 2: every read counts as a delivery/)
    expect(await depth('limited.dlq')).toBe(N)
    const depths: number[] = []
    for (let k = 0; k < 4; k++) {
      const inspect = await runCli(['dlq', 'inspect', 'limited.dlq', '--allow-deliveries', '--json', '--config', config], {env: base, timeoutMs: 60_000})
      expect([0, 1], inspect.stderr).toContain(inspect.code)
      await new Promise((r) => setTimeout(r, 300))
      depths.push(await depth('limited.dlq'))
    }
    // One inspection of a fresh queue, then one message looked at: the broker counted the inspection as its delivery.
    await onAnyNode(async (ch) => {
      await ch.assertQueue('counted.dlq', {durable: true, arguments: {'x-queue-type': 'quorum', 'x-delivery-limit': 5}})
      ch.sendToQueue('counted.dlq', Buffer.from('{}'), {messageId: 'counted-1', persistent: true})
      await waitFor('1 in counted.dlq', async () => (await ch.checkQueue('counted.dlq')).messageCount >= 1, 30_000)
    })
    const once = await runCli(['dlq', 'inspect', 'counted.dlq', '--allow-deliveries', '--json', '--config', config], {env: base, timeoutMs: 60_000})
    expect([0, 1], once.stderr).toContain(once.code)
    const count = await onAnyNode(async (ch) => {
      const msg = await ch.get('counted.dlq', {noAck: false})
      if (!msg) return null
      ch.nack(msg, false, true)
      return msg.properties.headers?.['x-delivery-count'] ?? null
    })
    expect(count).toBe(1)
    figure('quorum delivery-limit and dlq inspect', {messages: N, limit: 2, depthAfterEachInspect: depths, deliveryCountAfterOneInspect: count})
    // What the broker does (RabbitMQ 3.10): documented in docs/RELIABILITY.md from these figures.
    expect(depths[0]).toBe(N)
    expect(depths.at(-1)).toBeLessThan(N)
  })

  it('amqp.urls that all fail: exit 2 with one line naming each URL and its reason', async () => {
    const file = join(dir, 'dead.yaml')
    writeFileSync(file, 'amqp:\n  urls: ["amqp://guest:guest@127.0.0.1:1", "amqp://guest:guest@127.0.0.1:2"]\n')
    const result = await runCli(['dlq', 'inspect', 'work.dlq', '--config', file], {env: base})
    expect(result.code).toBe(2)
    const lines = errorLines(result as never)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('cannot connect to RabbitMQ at any of its 2 URLs: amqp://guest:****@127.0.0.1:1 (connection refused); amqp://guest:****@127.0.0.1:2 (connection refused)')
    expect(result.stderr).not.toContain('guest:guest')
  })
})
