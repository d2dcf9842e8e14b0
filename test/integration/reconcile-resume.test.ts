import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, makeAll, runCli, type TestDatabase, type TestRedis} from '../helpers/env.js'
import {spawnCli, waitFor} from '../reliability/helpers/world.js'

/**
 * reconcile --resume: a run killed with SIGKILL between chunks leaves its checkpoint in Redis; --resume reads only
 * the chunks left and reports the very findings of an uninterrupted run; a changed configuration is said in one line
 * and starts over.
 */
let db: TestDatabase
let redis: TestRedis
let env: Record<string, string>
const ROWS = 6000

const args = ['reconcile', '--json', '--since', '30d', '--grace', '1m', '--sample', '1000', '--chunk-size', '150', '--chunk-time', '1ms', '--max-load', '0', '--wait-lock', '1m']

async function json(extra: string[] = [], more: Record<string, string> = {}) {
  const result = await runCli([...args, ...extra], {env: {...env, ...more}, timeoutMs: 180_000})
  try {
    return {...result, json: JSON.parse(result.stdout)}
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
}

const findings = (j: any) => Object.fromEntries(Object.entries(j.checks).map(([c, r]: [string, any]) => [c, [r.count, r.samples.map((s: any) => s.id).sort()]]))

async function checkpoints(): Promise<string[]> {
  return redis.client.keys(`${redis.prefix}reconcile:checkpoint:*`)
}

beforeAll(async () => {
  ;[db, redis] = await makeAll([createTestDatabase('msgops_rresume'), createTestRedis('msgops_rresume')] as const)
  env = cliEnv({db, redis})
  expect((await runCli(['schema', 'init'], {env})).code).toBe(0)
  const conn = await mysql.createConnection(db.url)
  const at = 'NOW(3) - INTERVAL 2 DAY'
  // Every 50th chain is broken one way or another, so that findings fall in many chunks.
  await conn.query(`INSERT INTO orders (id, message_id, status, created_at, updated_at) SELECT CONCAT('o', LPAD(seq, 6, '0')), CONCAT('m', LPAD(seq, 6, '0')), 'paid', ${at}, ${at} FROM seq_1_to_${ROWS}`)
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('m', LPAD(seq, 6, '0')), '{}', IF(seq % 97 = 0, 'pending', 'sent'), ${at}, ${at} FROM seq_1_to_${ROWS} WHERE seq % 89 <> 0`)
  await conn.query(`INSERT INTO inbox (message_id, consumer, status, received_at) SELECT CONCAT('m', LPAD(seq, 6, '0')), 'billing', IF(seq % 83 = 0, 'failed', 'processed'), ${at} FROM seq_1_to_${ROWS} WHERE seq % 50 <> 0`)
  await conn.end()
  const pipeline = redis.client.pipeline()
  for (let i = 1; i <= ROWS; i++) if (i % 71 !== 0) pipeline.set(`${redis.prefix}order:o${String(i).padStart(6, '0')}`, i % 113 === 0 ? 'shipped' : 'paid')
  await pipeline.exec()
}, 120_000)

afterAll(async () => {
  await Promise.all([db?.drop(), redis?.cleanup()])
})

describe('reconcile --resume', () => {
  it('after kill -9, --resume reads only the chunks left and reports what an uninterrupted run reports', async () => {
    const whole = await json()
    expect(whole.code, whole.stderr).toBe(1)
    const total = whole.json.chunks.read
    expect(total).toBeGreaterThan(20)
    expect(whole.json.chunks.resumed).toBe(0)
    // A finished run leaves no checkpoint behind.
    expect(await checkpoints()).toEqual([])

    const run = spawnCli(args, env, 180_000)
    // Killed once its checkpoint holds a few chunks, and well before the end.
    let saved = 0
    await waitFor('a checkpoint of 5 chunks', async () => {
      const [key] = await checkpoints()
      saved = key ? JSON.parse((await redis.client.get(key)) ?? '{"chunks":0}').chunks : 0
      return saved >= 5
    }, 120_000, 20)
    run.child.kill('SIGKILL')
    await run.result
    // The killed run's lock would expire in 30 s: removed, to keep the test short.
    await redis.client.del(`${redis.prefix}lock:reconcile`)
    const [key] = await checkpoints()
    const left = JSON.parse((await redis.client.get(key))!)
    expect(left.chunks).toBeLessThan(total)

    const resumed = await json(['--resume'])
    expect(resumed.code, resumed.stderr).toBe(1)
    expect(resumed.json.chunks.resumed).toBe(left.chunks)
    expect(resumed.json.chunks.read + resumed.json.chunks.resumed).toBe(total)
    expect(findings(resumed.json)).toEqual(findings(whole.json))
    expect(resumed.json.total).toBe(whole.json.total)
    expect(await checkpoints()).toEqual([])
  }, 240_000)

  it('--resume without a checkpoint, or with one of another configuration, says so in one line and starts from the beginning', async () => {
    const none = await runCli([...args.filter((a) => a !== '--json'), '--resume'], {env})
    expect(none.code, none.stderr).toBe(1)
    expect(none.stderr).toMatch(/resume: no checkpoint for this window and part, starting from the beginning/)

    const run = spawnCli(args, env, 180_000)
    await waitFor('a checkpoint', async () => (await checkpoints()).length > 0, 120_000, 20)
    run.child.kill('SIGKILL')
    await run.result
    await redis.client.del(`${redis.prefix}lock:reconcile`)
    // The same window, another sample size: the findings it kept would not be those of this configuration.
    const changed = await runCli([...args.filter((a) => a !== '--json').map((a) => (a === '1000' ? '999' : a)), '--resume'], {env})
    expect(changed.code, changed.stderr).toBe(1)
    expect(changed.stderr.split('\n').filter((l) => /checkpoint/.test(l))).toEqual([expect.stringMatching(/resume: the checkpoint was made with another configuration .*starting from the beginning/)])
    expect(changed.stdout).toMatch(/chunks read/)
    expect(changed.stdout).not.toMatch(/taken from the checkpoint/)
  }, 240_000)
})
