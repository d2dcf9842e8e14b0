import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {DEFAULT_PIPELINE, openTransactions} from '../../src/core/outbox/drain.js'
import {runCli} from '../helpers/env.js'
import {killRounds} from './helpers/kill.js'
import {createWorld, figure, random, type World} from './helpers/setup.js'
import {outboxByStatus, QueueRecorder, seedOutbox} from './helpers/world.js'

const ROWS = Number(process.env.RELIABILITY_DRAIN_ROWS ?? 20_000)
const KILLS = 20
const BATCH = 200
/** Batches waiting for confirms at once (outbox drain --in-flight, its default): with as many committing, the open transactions bound the duplicates one kill can cause. */
const PIPELINE = DEFAULT_PIPELINE
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)

let world: World
let recorder: QueueRecorder

beforeAll(async () => {
  world = await createWorld('rel_dkill')
  recorder = new QueueRecorder(await world.newChannel(), 'orders.q')
  await recorder.start()
})

afterAll(async () => {
  await recorder?.stop()
  await world?.cleanup()
})

describe('kill -9 of outbox drain', () => {
  it(`loses no row and marks none sent unpublished over ${KILLS} kills and ${ROWS} rows`, async () => {
    const ids = await seedOutbox(world.conn, ROWS, 'k', 'orders.x', 'order.created')
    const rand = random(SEED)
    const started = Date.now()
    let killedMidway = 0
    // The lock is not what this test is about: a killed holder's lock lives on for its TTL (tested in concurrency.test.ts).
    const args = ['outbox', 'drain', '--yes', '--no-lock', '--batch', String(BATCH), '--in-flight', String(PIPELINE)]
    const {moments, rounds} = await killRounds({
      args, env: world.env, recorder, rand, kills: KILLS,
      remaining: async () => (await outboxByStatus(world.conn)).get('pending')?.length ?? 0,
      async afterRound({round, before, killed}) {
        // Invariant after every crash: a row marked sent has its message in the queue (confirm came before the commit).
        const byStatus = await outboxByStatus(world.conn)
        const sent = byStatus.get('sent') ?? []
        const missing = await recorder.settle(sent, 15_000)
        expect(missing.slice(0, 5), `round ${round} (seed ${SEED}): sent rows whose message never arrived`).toEqual([])
        const pendingAfter = byStatus.get('pending')?.length ?? 0
        if (killed && pendingAfter < before && pendingAfter > 0) killedMidway++
        expect(byStatus.get('dead_letter') ?? []).toEqual([])
      },
    })

    const final = await runCli(['outbox', 'drain', '--yes', '--no-lock', '--batch', String(BATCH)], {env: world.env, timeoutMs: 180_000})
    expect(final.code, final.stderr).toBe(0)
    const byStatus = await outboxByStatus(world.conn)
    expect(byStatus.get('sent')?.length).toBe(ROWS)
    const missing = await recorder.settle(ids, 30_000)
    expect(missing.slice(0, 5), `seed ${SEED}`).toEqual([])
    await recorder.quiet(500, 30_000)
    const duplicates = recorder.duplicates()
    // A duplicate can only come from batches published but not committed when the process died: at most the
    // drain's open transactions (batches waiting for confirms and those committing) per kill.
    expect(duplicates).toBeLessThanOrEqual(moments.length * openTransactions(PIPELINE) * BATCH)
    figure('drain-kill', {early: moments.filter((m) => m < 0).length, rows: ROWS, kills: moments.length, killedMidway, rounds, seed: SEED, delivered: recorder.total, duplicates, seconds: Math.round((Date.now() - started) / 1000)})
    expect(moments.length).toBe(KILLS)
  })
})
