import {rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it, onTestFinished} from 'vitest'

import {createWorld, figure, random, type World} from './helpers/setup.js'
import {makeDeadLetters, sleep, spawnCli, waitFor} from './helpers/world.js'

const ROUNDS = 16
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)

let world: World

beforeAll(async () => {
  world = await createWorld('rel_editkill')
})

afterAll(async () => {
  await world?.cleanup()
})

/** Everything in work.q, taken out. */
async function takeAll(): Promise<{id: string; body: string}[]> {
  const out: {id: string; body: string}[] = []
  for (;;) {
    const m = await world.channel.get('work.q', {noAck: true})
    if (m === false) return out
    out.push({id: String(m.properties.messageId), body: m.content.toString()})
  }
}

describe('kill -9 of dlq replay --edit at a random moment', () => {
  it(`never two copies, never none, never the original, over ${ROUNDS} rounds`, async () => {
    const ids = await makeDeadLetters(world.channel, ROUNDS, 'e')
    // Nothing consumes work.q during the rounds: what a run delivered stays there to be counted.
    await world.channel.purgeQueue('work.q')
    const file = join(tmpdir(), `msgops-edit-kill-${process.pid}.json`)
    onTestFinished(() => rmSync(file, {force: true}))
    const rand = random(SEED)
    const lockKey = `${world.redis.prefix}lock:dlq-replay:work.dlq`
    // One unkilled run measures how long a run takes; the moments spread over [0.5, 1.2] × that, around the publish and the ack (the process start is most of a run).
    let spanMs = 0
    const outcomes: Record<string, number> = {killedBefore: 0, killedAfterPublish: 0, killedAfterAck: 0, finished: 0}
    for (const [round, id] of ids.entries()) {
      writeFileSync(file, JSON.stringify({id, edited: round}))
      const before = (await world.channel.checkQueue('work.dlq')).messageCount
      const started = Date.now()
      const run = spawnCli(['dlq', 'replay', 'work.dlq', '--message-id', id, '--body-file', file, '--yes', '--idle', '1s'], world.env)
      let killed = false
      if (round > 0) {
        const at = Math.round((0.5 + rand() * 0.7) * spanMs)
        const exited = await Promise.race([run.result.then(() => true), sleep(at).then(() => false)])
        if (!exited) {
          run.kill9()
          killed = true
        }
      }
      const result = await run.result
      if (round === 0) spanMs = Date.now() - started
      if (!killed) expect(result.code, result.stderr).toBe(0)
      await world.redis.client.del(lockKey)
      // The killed connection's unacked deliveries go back once the broker sees it gone.
      await waitFor('the killed connection to be closed', async () => (await world.channel.checkQueue('work.dlq')).consumerCount === 0, 30_000)
      const after = (await world.channel.checkQueue('work.dlq')).messageCount
      const arrived = await takeAll()
      const label = `round ${round} (seed ${SEED}, killed ${killed})`
      // Only this run's message, at most once, and only ever the edited body.
      expect(arrived.map((m) => m.id), label).toEqual(arrived.length === 0 ? [] : [id])
      for (const m of arrived) expect(JSON.parse(m.body), label).toEqual({id, edited: round})
      // The original left the DLQ only if its edited copy arrived: never neither.
      expect([before, before - 1], label).toContain(after)
      if (after === before - 1) expect(arrived, label).toHaveLength(1)
      if (!killed) expect(after, label).toBe(before - 1)
      const key = !killed ? 'finished' : arrived.length === 0 ? 'killedBefore' : after === before ? 'killedAfterPublish' : 'killedAfterAck'
      outcomes[key]++
    }
    figure('replay-edit-kill', {rounds: ROUNDS, seed: SEED, spanMs, ...outcomes})
  })
})
