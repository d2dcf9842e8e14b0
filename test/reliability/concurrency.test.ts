import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createWorld, figure, type World} from './helpers/setup.js'
import {errorLines, makeDeadLetters, outboxByStatus, QueueRecorder, seedOutbox, spawnCli, waitFor} from './helpers/world.js'

const ROWS = 10_000

let world: World
let orders: QueueRecorder

beforeAll(async () => {
  world = await createWorld('rel_race')
  orders = new QueueRecorder(await world.newChannel(), 'orders.q')
  await orders.start()
})

afterAll(async () => {
  await orders?.stop()
  await world?.cleanup()
})

/** Every id delivered exactly once: no message published twice in one pass. */
function expectExactlyOnce(recorder: QueueRecorder, ids: string[]): void {
  const twice = ids.filter((id) => (recorder.counts.get(id) ?? 0) > 1)
  const never = ids.filter((id) => !recorder.counts.has(id))
  expect({twice: twice.slice(0, 5), never: never.slice(0, 5)}).toEqual({twice: [], never: []})
}

describe('two runs started together', () => {
  it('two drains under the lock: one works, the loser exits 2 naming the holder, each message once', async () => {
    const ids = await seedOutbox(world.conn, ROWS, 'lock', 'orders.x', 'order.created')
    const a = spawnCli(['outbox', 'drain', '--yes'], world.env)
    const b = spawnCli(['outbox', 'drain', '--yes'], world.env)
    const results = await Promise.all([a.result, b.result])
    const codes = results.map((r) => r.code).sort()
    expect(codes, results.map((r) => r.stderr).join('\n')).toEqual([0, 2])
    const loser = results.find((r) => r.code === 2)!
    const lines = errorLines(loser)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/lock .*outbox-drain is held by .+\/\d+ since /)
    expect(await orders.settle(ids, 30_000)).toEqual([])
    await orders.quiet(300, 30_000)
    expectExactlyOnce(orders, ids)
    figure('race drain lock', {rows: ROWS, loser: lines[0].replace(/held by \S+/, 'held by HOST/PID')})
  })

  it('two drains without the lock (--no-lock): SKIP LOCKED splits the rows, each message once', async () => {
    const ids = await seedOutbox(world.conn, ROWS, 'skip', 'orders.x', 'order.created')
    const args = ['outbox', 'drain', '--yes', '--no-lock', '--batch', '200', '--json']
    const results = await Promise.all([spawnCli(args, world.env).result, spawnCli(args, world.env).result])
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const published = results.map((r) => (JSON.parse(r.stdout) as {published: number}).published)
    expect(published[0] + published[1]).toBe(ROWS)
    expect((await outboxByStatus(world.conn)).get('pending') ?? []).toEqual([])
    expect(await orders.settle(ids, 30_000)).toEqual([])
    await orders.quiet(300, 30_000)
    expectExactlyOnce(orders, ids)
    figure('race drain skip-locked', {rows: ROWS, split: published})
  })

  it('two replays of one queue: one works, the loser exits 2 naming the holder, each message once', async () => {
    const MESSAGES = 5000
    const ids = await makeDeadLetters(world.channel, MESSAGES, 'race')
    const work = new QueueRecorder(await world.newChannel(), 'work.q')
    await work.start()
    try {
      // --rate keeps the winner busy for a few seconds, so that both really overlap on this slow machine.
      const args = ['dlq', 'replay', 'work.dlq', '--yes', '--idle', '1s', '--rate', '1000']
      const results = await Promise.all([spawnCli(args, world.env).result, spawnCli(args, world.env).result])
      const codes = results.map((r) => r.code).sort()
      expect(codes, results.map((r) => r.stderr).join('\n')).toEqual([0, 2])
      const lines = errorLines(results.find((r) => r.code === 2)!)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/lock .*dlq-replay:work\.dlq is held by .+\/\d+ since /)
      expect(await work.settle(ids, 30_000)).toEqual([])
      await work.quiet(300, 30_000)
      expectExactlyOnce(work, ids)
      expect((await world.channel.checkQueue('work.dlq')).messageCount).toBe(0)
      figure('race replay lock', {messages: MESSAGES})
    } finally {
      await work.stop()
    }
  })

  it('a drain killed -9 while holding the lock blocks the next one only until the lock expires', async () => {
    const ids = await seedOutbox(world.conn, ROWS, 'orphan', 'orders.x', 'order.created')
    const seen = orders.total
    const first = spawnCli(['outbox', 'drain', '--yes', '--batch', '100'], world.env)
    await waitFor('the first drain to publish', () => orders.total > seen, 60_000, 10)
    first.kill9()
    await first.result
    const lock = await world.redis.client.get(`${world.redis.prefix}lock:outbox-drain`)
    expect(lock).not.toBeNull()
    const second = await spawnCli(['outbox', 'drain', '--yes', '--wait-lock', '45s'], world.env, 90_000).result
    expect(second.code, second.stderr).toBe(0)
    expect(await orders.settle(ids, 30_000)).toEqual([])
    figure('orphan lock', {waitedMs: second.ms})
  })
})
