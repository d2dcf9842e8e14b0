import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createWorld, figure, type World} from './helpers/setup.js'
import {errorLines, makeDeadLetters, sleep, spawnCli, waitFor} from './helpers/world.js'

/**
 * A lock holder stopped past its lock's 30 s lifetime (SIGSTOP here; a long GC pause or a frozen VM in production):
 * when it runs again it says the lock was lost while it was paused — not a MySQL or RabbitMQ timeout — stops at a safe
 * point and exits 2; every dead letter is still in one of the two queues.
 */
let world: World
const MESSAGES = 400

beforeAll(async () => {
  world = await createWorld('rel_pause')
})

afterAll(async () => {
  await world?.cleanup()
})

describe('a lock holder paused past its lock', () => {
  it('says the lock was lost while it was paused, exits 2, and loses nothing', async () => {
    await makeDeadLetters(world.channel, MESSAGES, 'p')
    await world.channel.purgeQueue('work.q')
    const run = spawnCli(['dlq', 'replay', 'work.dlq', '--yes', '--rate', '20', '--prefetch', '10'], world.env)
    await waitFor('the first replayed message', async () => (await world.channel.checkQueue('work.q')).messageCount > 0, 30_000)
    run.child.kill('SIGSTOP')
    const pausedAt = Date.now()
    await sleep(33_000)
    run.child.kill('SIGCONT')
    const result = await run.result
    figure('paused-lock', {pausedMs: Date.now() - pausedAt, code: result.code})
    expect(result.code, result.stderr).toBe(2)
    const lines = errorLines(result).filter((l) => l.startsWith('Error:'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^Error: lock \S+lock:dlq-replay:work\.dlq was lost while this process was paused for 3\ds, longer than the lock's 30s lifetime; /)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    const moved = (await world.channel.checkQueue('work.q')).messageCount
    await waitFor('the dead letters it held back in the queue', async () => moved + (await world.channel.checkQueue('work.dlq')).messageCount === MESSAGES, 30_000)
  }, 120_000)
})
