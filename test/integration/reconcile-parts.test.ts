import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, makeAll, runCli, type TestDatabase, type TestRedis} from '../helpers/env.js'

/**
 * reconcile --part I/N: the N parts' findings must add up to a whole run's exactly, on data made to trip the cuts —
 * a finding of every check at every few keys (so that keys sit on the cut points and on the chunk ends of chunks of
 * two keys), NULL keys, keys equal only under the collation, young rows — with string keys (the reference schema) and
 * with integer keys (a team's own tables), by the merge plan and the lookup plan. Then reconcile merge, its refusals,
 * the Indexed Job's variable, and the part's lock and metrics.
 */
let redis: TestRedis
let text: TestDatabase
let ints: TestDatabase
let dir: string

const OLD = 'NOW(3) - INTERVAL 2 DAY'
// Young for the whole file: the grace is an hour, so that runs minutes apart (the parts share the first part's window) agree.
const YOUNG = 'NOW(3) - INTERVAL 10 SECOND'
const KEYS = 60

interface World {
  db: TestDatabase
  env: Record<string, string>
  key(kind: 'order' | 'message', i: number): string | number
}

/** Every check's findings spread over the keys (see the file's comment); clean chains in between. */
async function seed(world: World): Promise<void> {
  const conn = await mysql.createConnection(world.db.url)
  const order = (id: unknown, message: unknown, status = 'paid', at = OLD) => conn.query(`INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES (?, ?, ?, ${at}, ${at})`, [id, message, status])
  const outbox = (id: unknown, status: string, at = OLD) => conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) VALUES (?, '{}', ?, ${at}, ${status === 'sent' ? at : 'NULL'})`, [id, status])
  const inbox = (message: unknown, status = 'processed', consumer = 'billing', at = OLD) => conn.query(`INSERT INTO inbox (message_id, consumer, status, received_at) VALUES (?, ?, ?, ${at})`, [message, consumer, status])
  const cache: [string, string][] = []
  for (let i = 1; i <= KEYS; i++) {
    const o = world.key('order', i)
    const m = world.key('message', i)
    const kind = i % 6
    if (kind === 4) await order(o, m) // order_without_message: its message has no outbox row
    else {
      await order(o, m)
      await outbox(m, kind === 2 ? 'pending' : kind === 3 ? 'dead_letter' : 'sent')
      if (kind === 0) await inbox(m)
      if (kind === 3) await inbox(m, 'failed') // consumed_failed
      if (kind === 0 && i % 4 === 0) await inbox(m, 'processed', 'shipping') // a second consumer
    }
    if (kind === 5) await inbox(world.key('message', i + 1000)) // orphan_consumed: no outbox row
    // cache_drift: a missing key (kind 2), a wrong value (kind 5)
    if (kind !== 2) cache.push([`${redis.prefix}order:${o}`, kind === 5 ? 'shipped' : 'paid'])
  }
  await order(world.key('order', 900), null) // order_without_message through the NULL path
  await order(world.key('order', 901), null)
  await order(world.key('order', 902), world.key('message', 902), 'paid', YOUNG) // young: never flagged
  await outbox(world.key('message', 903), 'pending', YOUNG)
  for (const id of [900, 901, 902]) cache.push([`${redis.prefix}order:${world.key('order', id)}`, 'paid'])
  if (typeof world.key('message', 1) === 'string') {
    // Equal only under utf8mb4_general_ci: a consumed message, whatever range each spelling falls in.
    await outbox('m-case', 'sent')
    await inbox('M-CASE')
  } else {
    await inbox(null, 'failed') // a NULL message id: consumed_failed and orphan_consumed
    // keys far apart: integer cuts must not be taken for text
    await order(2 ** 40, 2 ** 41)
    await outbox(2 ** 41, 'sent')
    cache.push([`${redis.prefix}order:${2 ** 40}`, 'paid'])
  }
  for (const [k, v] of cache) await redis.client.set(k, v)
  await conn.end()
}

async function reconcileJson(world: World, args: string[], env: Record<string, string> = {}) {
  const result = await runCli(['reconcile', '--json', '--since', '30d', '--grace', '1h', '--sample', '1000', '--max-load', '0', ...args], {env: {...world.env, ...env}})
  let json: any
  try {
    json = JSON.parse(result.stdout)
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return {...result, json}
}

/** Each check's count and its findings (id and detail), sorted, for comparing runs. */
function findings(json: any): Record<string, {count: number; ids: string[]}> {
  return Object.fromEntries(Object.entries(json.checks).map(([check, r]: [string, any]) => [check, {count: r.count, ids: r.samples.map((s: any) => `${s.id} ${s.detail ?? ''}`).sort()}]))
}

/** The parts' findings added up as the test sees them (independent of reconcile merge). */
function union(parts: any[]): Record<string, {count: number; ids: string[]}> {
  const out: Record<string, {count: number; ids: string[]}> = {}
  for (const p of parts)
    for (const [check, r] of Object.entries(findings(p))) {
      out[check] ??= {count: 0, ids: []}
      out[check].count += r.count
      out[check].ids.push(...r.ids)
    }
  for (const r of Object.values(out)) r.ids.sort()
  return out
}

const worlds: World[] = []

beforeAll(async () => {
  ;[redis, text, ints] = await makeAll([createTestRedis('msgops_rparts'), createTestDatabase('msgops_rparts_s'), createTestDatabase('msgops_rparts_i')] as const)
  dir = join('/tmp', `${redis.prefix.replace(/:$/, '')}`)
  await import('node:fs').then((fs) => fs.mkdirSync(dir, {recursive: true}))
  // The cache keys under the test's own prefix.
  writeFileSync(join(dir, 'msgops.yaml'), `cache: {keyPattern: "${redis.prefix}order:{id}"}\n`)
  const config = {MSGOPS_CONFIG: join(dir, 'msgops.yaml')}
  await runCli(['schema', 'init'], {env: cliEnv({db: text, redis})})
  const conn = await mysql.createConnection(ints.url)
  await conn.query('CREATE TABLE orders (id BIGINT PRIMARY KEY, message_id BIGINT NULL, status VARCHAR(32) NOT NULL, created_at DATETIME(3) NOT NULL, updated_at DATETIME(3) NOT NULL, KEY (message_id), KEY (created_at))')
  await conn.query('CREATE TABLE outbox (id BIGINT PRIMARY KEY, payload JSON NOT NULL, status VARCHAR(32) NOT NULL, created_at DATETIME(3) NOT NULL, sent_at DATETIME(3) NULL, KEY (status, created_at))')
  await conn.query('CREATE TABLE inbox (id BIGINT AUTO_INCREMENT PRIMARY KEY, message_id BIGINT NULL, consumer VARCHAR(64) NOT NULL, status VARCHAR(32), received_at DATETIME(3) NOT NULL, UNIQUE KEY (message_id, consumer), KEY (received_at, message_id, consumer))')
  await conn.end()
  worlds.push(
    {db: text, env: {...cliEnv({db: text, redis}), ...config}, key: (kind, i) => `${kind === 'order' ? 'o' : 'm'}${String(i).padStart(4, '0')}`},
    {db: ints, env: {...cliEnv({db: ints, redis}), ...config}, key: (kind, i) => (kind === 'order' ? i * 7 : 5000 + i * 3)},
  )
  for (const w of worlds) await seed(w)
}, 120_000)

afterAll(async () => {
  await Promise.all([text?.drop(), ints?.drop(), redis?.cleanup()])
  await import('node:fs').then((fs) => fs.rmSync(dir, {recursive: true, force: true}))
})

describe('reconcile --part I/N', () => {
  for (const [name, n] of [['text keys', 0], ['integer keys', 1]] as const)
    it(`the parts' findings add up to a whole run's exactly (${name}, 3 and 4 parts, merge and lookup plans, chunks of 2 keys)`, async () => {
      const world = worlds[n]
      for (const plan of ['auto', 'lookup']) {
        const whole = await reconcileJson(world, ['--plan', plan, '--chunk-time', '0'])
        expect(whole.code, whole.stderr).toBe(1)
        if (plan === 'auto') expect(whole.json.merged.length).toBeGreaterThan(0)
        // Every check finds something, so that every kind of row sits at some cut and chunk end.
        for (const [check, r] of Object.entries(findings(whole.json))) expect(r.count, check).toBeGreaterThan(0)
        for (const count of plan === 'auto' ? [3, 4] : [3]) {
          const parts: any[] = []
          // Two parts side by side: each takes its own lock (reconcile:I/N), neither waits for the other.
          for (let i = 1; i <= count; i += 2) {
            const pair = await Promise.all([i, i + 1].filter((k) => k <= count).map((k) => reconcileJson(world, ['--plan', plan, '--part', `${k}/${count}`, '--chunk-size', '2', '--chunk-time', '1ms'])))
            for (const p of pair) {
              expect(p.code, p.stderr).toBeLessThanOrEqual(1)
              parts.push(p.json)
            }
          }
          expect(new Set(parts.map((p) => p.part.run)).size).toBe(1)
          expect(parts.map((p) => p.part.index)).toEqual(Array.from({length: count}, (_v, k) => k + 1))
          expect(parts.reduce((sum, p) => sum + p.chunks.read, 0)).toBeGreaterThan(count * 5)
          expect(union(parts), `${plan}, ${count} parts`).toEqual(findings(whole.json))
        }
      }
    }, 240_000)

  it('reconcile merge joins the parts into the whole run (its exit code), refuses a part missing or twice, and a whole run', async () => {
    const world = worlds[0]
    const whole = await reconcileJson(world, ['--chunk-time', '0'])
    const files: string[] = []
    for (let k = 1; k <= 3; k++) {
      const part = await reconcileJson(world, ['--part', `${k}/3`, ...(k === 2 ? ['--metrics-file', join(dir, 'part-2.prom')] : [])])
      files.push(join(dir, `part-${k}.json`))
      writeFileSync(files.at(-1)!, part.stdout)
    }
    // The part's metrics carry its label.
    expect(readFileSync(join(dir, 'part-2.prom'), 'utf8')).toMatch(/msgops_reconcile_findings\{check="sent_not_consumed",part="2\/3"\} \d+/)
    const merged = await runCli(['reconcile', 'merge', '--json', '--sample', '1000', ...files], {env: world.env})
    expect(merged.code, merged.stderr).toBe(whole.code)
    const joined = JSON.parse(merged.stdout)
    expect(findings(joined)).toEqual(findings(whole.json))
    expect(joined.total).toBe(whole.json.total)
    expect(joined.parts.map((p: any) => p.index)).toEqual([1, 2, 3])
    const human = await runCli(['reconcile', 'merge', ...files], {env: world.env})
    expect(human.stdout).toMatch(/3 parts of run/)

    const missing = await runCli(['reconcile', 'merge', files[0], files[2]], {env: world.env})
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toMatch(/part 2\/3 of run \S+ is missing/)
    const twice = await runCli(['reconcile', 'merge', ...files, files[1]], {env: world.env})
    expect(twice.code).toBe(2)
    expect(twice.stderr).toMatch(/part 2\/3 is given twice/)
    writeFileSync(join(dir, 'whole.json'), whole.stdout)
    const notPart = await runCli(['reconcile', 'merge', files[0], join(dir, 'whole.json')], {env: world.env})
    expect(notPart.code).toBe(2)
    expect(notPart.stderr).toMatch(/whole\.json is not a part's report/)
  }, 120_000)

  it('--parts N takes its part from $JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it, and refuses it unset', async () => {
    const world = worlds[1]
    const indexed = await reconcileJson(world, ['--parts', '3'], {JOB_COMPLETION_INDEX: '1'})
    expect(indexed.code, indexed.stderr).toBeLessThanOrEqual(1)
    expect(indexed.json.part).toMatchObject({index: 2, count: 3})
    const named = await reconcileJson(world, ['--part', '2/3'])
    expect(findings(indexed.json)).toEqual(findings(named.json))
    expect(indexed.json.part.run).toBe(named.json.part.run)
    const unset = await runCli(['reconcile', '--parts', '3'], {env: world.env})
    expect(unset.code).toBe(2)
    expect(unset.stderr).toMatch(/JOB_COMPLETION_INDEX/)
  }, 60_000)
})
