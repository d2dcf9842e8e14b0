import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DEFAULT_PREFETCH} from '../../src/flags.js'
import {runCli} from '../helpers/env.js'
import {killRounds} from './helpers/kill.js'
import {createWorld, figure, random, type World} from './helpers/setup.js'
import {makeDeadLetters, QueueRecorder, waitFor} from './helpers/world.js'

const MESSAGES = Number(process.env.RELIABILITY_REPLAY_MESSAGES ?? 10_000)
const KILLS = 20
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)

let world: World
let recorder: QueueRecorder

beforeAll(async () => {
  world = await createWorld('rel_rkill')
})

afterAll(async () => {
  await recorder?.stop()
  await world?.cleanup()
})

describe('kill -9 of dlq replay', () => {
  it(`every dead letter ends in its original queue or still in the DLQ, over ${KILLS} kills`, async () => {
    const ids = await makeDeadLetters(world.channel, MESSAGES, 'r')
    // work.q is where replayed messages go back to: record them as they arrive.
    recorder = new QueueRecorder(await world.newChannel(), 'work.q')
    await recorder.start()
    const rand = random(SEED)
    const started = Date.now()
    const lockKey = `${world.redis.prefix}lock:dlq-replay:work.dlq`
    const args = ['dlq', 'replay', 'work.dlq', '--yes', '--idle', '1s']
    const {moments, rounds} = await killRounds({
      args, env: world.env, recorder, rand, kills: KILLS,
      remaining: async () => (await world.channel.checkQueue('work.dlq')).messageCount,
      async afterRound({round}) {
        // A killed run's lock lives on for its 30 s TTL (concurrency.test.ts waits for one); here we clear it, as an operator would.
        await world.redis.client.del(lockKey)
        // Once the dead connection is gone its unacked dead letters are back: nothing may be missing from both queues.
        await recorder.quiet(300, 30_000)
        await waitFor('the killed connection to be closed', async () => (await world.channel.checkQueue('work.dlq')).consumerCount === 0, 30_000)
        const inDlq = (await world.channel.checkQueue('work.dlq')).messageCount
        expect(inDlq + recorder.counts.size, `round ${round} (seed ${SEED})`).toBeGreaterThanOrEqual(MESSAGES)
      },
    })

    const final = await runCli(args, {env: world.env, timeoutMs: 180_000})
    expect(final.code, final.stderr).toBe(0)
    expect((await world.channel.checkQueue('work.dlq')).messageCount).toBe(0)
    const missing = await recorder.settle(ids, 30_000)
    expect(missing.slice(0, 5), `seed ${SEED}`).toEqual([])
    await recorder.quiet(500, 30_000)
    const duplicates = recorder.duplicates()
    figure('replay-kill', {messages: MESSAGES, kills: moments.length, early: moments.filter((m) => m < 0).length, rounds, seed: SEED, delivered: recorder.total, duplicates, seconds: Math.round((Date.now() - started) / 1000)})
    expect(moments.length).toBe(KILLS)
    // A duplicate is a republish whose dead letter was still unacked when the process died: at most the consumer's
    // window (--prefetch, its default here) per kill, since no delivery is held in an unfiltered replay.
    expect(duplicates).toBeLessThanOrEqual(moments.length * DEFAULT_PREFETCH)
  })
})
