import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {createWorld, figure, random, type World} from './helpers/setup.js'
import {makeDeadLetters, QueueRecorder, sleep, spawnCli, waitFor} from './helpers/world.js'

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
    const moments: number[] = []
    let round = 0
    const args = ['dlq', 'replay', 'work.dlq', '--yes', '--idle', '1s']
    while (moments.length < KILLS && round < KILLS * 3) {
      round++
      const depth = (await world.channel.checkQueue('work.dlq')).messageCount
      if (depth === 0) break
      const seen = recorder.total
      const run = spawnCli(args, world.env)
      let finished = false
      void run.result.then(() => (finished = true))
      const early = rand() < 0.15
      // Early: a time while it starts and connects. Otherwise: after a random number of its messages reached the queue,
      // on average an even share of what is left, so that the moments spread over the queue whatever the machine's speed.
      const at = early ? Math.round(100 + rand() * 1500) : 1 + Math.floor((rand() * 2 * depth) / (KILLS - moments.length + 1))
      const moment = (async () => {
        if (early) await sleep(at)
        else await waitFor(`${at} messages of this run`, () => finished || recorder.total >= seen + at, 60_000, 2)
        return false
      })()
      const exited = await Promise.race([run.result.then(() => true), moment])
      if (!exited) run.kill9()
      const result = await run.result
      if (exited) expect(result.code, result.stderr).toBe(0)
      else moments.push(early ? -at : at)
      // A killed run's lock lives on for its 30 s TTL (concurrency.test.ts waits for one); here we clear it, as an operator would.
      await world.redis.client.del(lockKey)
      // Once the dead connection is gone its unacked dead letters are back: nothing may be missing from both queues.
      await recorder.quiet(300, 30_000)
      await waitFor('the killed connection to be closed', async () => (await world.channel.checkQueue('work.dlq')).consumerCount === 0, 30_000)
      const inDlq = (await world.channel.checkQueue('work.dlq')).messageCount
      expect(inDlq + recorder.counts.size, `round ${round} (seed ${SEED})`).toBeGreaterThanOrEqual(MESSAGES)
    }

    const final = await runCli(args, {env: world.env, timeoutMs: 180_000})
    expect(final.code, final.stderr).toBe(0)
    expect((await world.channel.checkQueue('work.dlq')).messageCount).toBe(0)
    const missing = await recorder.settle(ids, 30_000)
    expect(missing.slice(0, 5), `seed ${SEED}`).toEqual([])
    await recorder.quiet(500, 30_000)
    const duplicates = recorder.duplicates()
    figure('replay-kill', {messages: MESSAGES, kills: moments.length, early: moments.filter((m) => m < 0).length, rounds: round, seed: SEED, delivered: recorder.total, duplicates, seconds: Math.round((Date.now() - started) / 1000)})
    expect(moments.length).toBe(KILLS)
  })
})
