import {execFile} from 'node:child_process'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {createWorld, figure, type World} from './helpers/setup.js'
import {errorLines, outboxByStatus, QueueRecorder, seedOutbox, sleep, spawnCli, waitFor} from './helpers/world.js'

/**
 * A memory alarm blocks EVERY publisher on the broker, not only ours: this file must run alone
 * (vitest.reliability.config.ts runs it after the other files, by itself) and always restores the watermark.
 */
const run = promisify(execFile)
const NORMAL_WATERMARK = '0.4'
const ROWS = 300

async function watermark(value: string): Promise<void> {
  await run('rabbitmqctl', ['set_vm_memory_high_watermark', value], {timeout: 60_000})
}

async function alarmed(): Promise<boolean> {
  const res = await fetch('http://127.0.0.1:15672/api/nodes', {headers: {authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`}})
  const nodes = (await res.json()) as {mem_alarm: boolean}[]
  return nodes.some((n) => n.mem_alarm)
}

let world: World
let recorder: QueueRecorder

beforeAll(async () => {
  world = await createWorld('rel_alarm')
  recorder = new QueueRecorder(await world.newChannel(), 'orders.q')
  await recorder.start()
})

afterAll(async () => {
  // Whatever happened above, the broker must accept publishers again.
  await watermark(NORMAL_WATERMARK).catch(() => {})
  await recorder?.stop()
  await world?.cleanup()
})

describe('the broker blocking publishers (memory alarm)', () => {
  it('drain gives up after --timeout with one line naming the block, and marks nothing sent', async () => {
    const ids = await seedOutbox(world.conn, ROWS, 'alarm1', 'orders.x', 'order.created')
    let result
    let exitedWhileBlocked = false
    const started = Date.now()
    try {
      await watermark('0')
      await waitFor('the memory alarm', alarmed, 30_000, 200)
      const drain = spawnCli(['outbox', 'drain', '--yes', '--timeout', '5s'], world.env, 60_000)
      // The broker stays blocked for at most --timeout + 15 s: a drain still running then is a hang (reported below).
      exitedWhileBlocked = await Promise.race([drain.result.then(() => true), sleep(20_000).then(() => false)])
      await watermark(NORMAL_WATERMARK)
      result = await drain.result
    } finally {
      await watermark(NORMAL_WATERMARK)
    }
    const seconds = (Date.now() - started) / 1000
    expect({exitedWhileBlocked, code: result.code}, `drain --timeout 5s was still running 20 s into the alarm; stderr: ${result.stderr}`).toEqual({exitedWhileBlocked: true, code: 2})
    const lines = errorLines(result)
    expect(lines, result.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/blocking publishers|did not confirm/)
    expect(result.stderr).not.toContain('    at ')
    expect((await outboxByStatus(world.conn)).get('sent') ?? []).toEqual([])
    // Once the alarm is gone, the same rows go out with their message ids.
    await waitFor('the alarm to clear', async () => !(await alarmed()), 30_000, 200)
    await world.redis.client.del(`${world.redis.prefix}lock:outbox-drain`)
    const again = await runCli(['outbox', 'drain', '--yes'], {env: world.env, timeoutMs: 60_000})
    expect(again.code, again.stderr).toBe(0)
    expect(await recorder.settle(ids, 30_000)).toEqual([])
    figure('memory-alarm timeout', {rows: ROWS, exitMs: result.ms, exitedWhileBlocked, withAlarmSeconds: Math.round(seconds), line: lines[0]})
  })

  it('drain waits while the broker blocks, and finishes once the alarm clears within --timeout', async () => {
    const ids = await seedOutbox(world.conn, ROWS, 'alarm2', 'orders.x', 'order.created')
    await world.redis.client.del(`${world.redis.prefix}lock:outbox-drain`)
    let result
    try {
      await watermark('0')
      await waitFor('the memory alarm', alarmed, 30_000, 200)
      const drain = spawnCli(['outbox', 'drain', '--yes', '--timeout', '60s'], world.env, 90_000)
      // Let it connect and get blocked, then lift the alarm.
      await Promise.race([drain.result, sleep(6000)])
      await watermark(NORMAL_WATERMARK)
      result = await drain.result
    } finally {
      await watermark(NORMAL_WATERMARK)
    }
    expect(result.code, result.stderr).toBe(0)
    const byStatus = await outboxByStatus(world.conn)
    expect(ids.filter((id) => !(byStatus.get('sent') ?? []).includes(id))).toEqual([])
    expect(await recorder.settle(ids, 30_000)).toEqual([])
    figure('memory-alarm wait', {rows: ROWS, exitMs: result.ms})
  })
})
