import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, makeAll, runCli, type TestDatabase, type TestRedis} from '../helpers/env.js'
import {reconcileJson} from '../helpers/reconcile.js'

/**
 * `reconcile --fix` over cache keys of another Redis type than cache.format (issue 23, item 5): each is a cache_drift
 * finding naming its key and its type; --fix replaces it (TTL kept) or, with --cache-wrong-type keep, leaves it and
 * says so; the run never stops on WRONGTYPE, and the other keys of the page are fixed either way.
 */
let db: TestDatabase
let redis: TestRedis
let conn: mysql.Connection
let env: Record<string, string>
let dir: string

const OLD = 'NOW(3) - INTERVAL 1 HOUR'
const IDS = ['o1', 'o2', 'o3', 'o4', 'o5', 'o6']

beforeAll(async () => {
  ;[db, redis] = await makeAll<[TestDatabase, TestRedis]>([createTestDatabase('msgops_wt'), createTestRedis('msgops_wt')])
  env = cliEnv({db, redis})
  dir = mkdtempSync(join(tmpdir(), 'msgops-wt-'))
  const init = await runCli(['schema', 'init'], {env})
  expect(init.code, init.stderr).toBe(0)
  conn = await mysql.createConnection(db.url)
  for (const id of IDS) await conn.query(`INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES (?, ?, 'paid', ${OLD}, ${OLD})`, [id, `m-${id}`])
})

afterAll(async () => {
  await conn?.end()
  await db?.drop()
  await redis?.cleanup()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

function configFor(format: 'hash' | 'string' | 'json', space: string, onDrift = 'rewrite'): string {
  const file = join(dir, `${format}-${space}-${onDrift}.yaml`)
  writeFileSync(file, `cache:\n  keyPattern: "${redis.prefix}${space}:{id}"\n  format: ${format}\n  field: status\n  onDrift: ${onDrift}\n`)
  return file
}

/**
 * The keys of one key space: o1 of the other type (string or hash) with a TTL, o2 right, o3 the right type with the
 * wrong status, o4 a list, o5 missing, o6 a set.
 */
async function seed(format: 'hash' | 'string' | 'json', space: string): Promise<(id: string) => string> {
  const k = (id: string) => `${redis.prefix}${space}:${id}`
  await redis.client.del(...IDS.map(k))
  const right = (id: string, status: string) =>
    format === 'hash' ? redis.client.hset(k(id), 'status', status) : redis.client.set(k(id), format === 'json' ? JSON.stringify({status, total: 3}) : status)
  if (format === 'hash') await redis.client.set(k('o1'), 'paid')
  else await redis.client.hset(k('o1'), 'status', 'paid', 'total', '3')
  await redis.client.pexpire(k('o1'), 600_000)
  await right('o2', 'paid')
  await right('o3', 'created')
  await redis.client.rpush(k('o4'), 'paid')
  await redis.client.sadd(k('o6'), 'paid')
  return k
}

const detailOf = (json: any, id: string) => json.checks.cache_drift.samples.find((s: {id: string}) => s.id === id)?.detail

/** The one-line, no-stack, JSON-on-stdout shape of a run that did not fail. */
function expectClean(result: {stderr: string}) {
  expect(result.stderr).not.toMatch(/WRONGTYPE|\n\s+at /)
}

describe('reconcile --fix with cache keys of another Redis type', () => {
  for (const format of ['hash', 'string', 'json'] as const) {
    const expected = format === 'hash' ? 'hash' : 'string'
    const other = format === 'hash' ? 'string' : 'hash'

    it(`${format}: each key of another type is a finding naming the key and its type; --fix replaces it, keeping its TTL`, async () => {
      const k = await seed(format, `${format}r`)
      const config = configFor(format, `${format}r`)
      const found = await reconcileJson(env, config, ['--check', 'cache_drift', '--sample', '10'])
      expect(found.code, found.stderr).toBe(1)
      expectClean(found)
      expect(found.json.checks.cache_drift.count).toBe(5)
      expect(detailOf(found.json, 'o1')).toBe(`wrong Redis type: ${k('o1')} is a ${other}, expected a ${expected}`)
      expect(detailOf(found.json, 'o4')).toBe(`wrong Redis type: ${k('o4')} is a list, expected a ${expected}`)
      expect(detailOf(found.json, 'o6')).toBe(`wrong Redis type: ${k('o6')} is a set, expected a ${expected}`)
      expect(detailOf(found.json, 'o3')).toBe('cache=created db=paid')
      expect(detailOf(found.json, 'o5')).toBe('missing')

      const fixed = await reconcileJson(env, config, ['--check', 'cache_drift', '--fix', '--yes'])
      expect(fixed.code, fixed.stderr).toBe(0)
      expectClean(fixed)
      expect(fixed.json.fixes.checks.cache_drift).toMatchObject({action: 'rewrite from MySQL', fixed: 5, notFixed: 0})
      expect(fixed.json.fixes.checks.cache_drift.note).toBeUndefined()
      for (const id of IDS) expect(await redis.client.type(k(id)), id).toBe(expected)
      if (format === 'hash') for (const id of IDS) expect(await redis.client.hget(k(id), 'status'), id).toBe('paid')
      else if (format === 'string') for (const id of IDS) expect(await redis.client.get(k(id)), id).toBe('paid')
      else for (const id of IDS) expect(JSON.parse((await redis.client.get(k(id)))!).status, id).toBe('paid')
      // The replaced key kept its TTL; the others had none and got none.
      expect(await redis.client.pttl(k('o1'))).toBeGreaterThan(500_000)
      expect(await redis.client.pttl(k('o4'))).toBe(-1)
      const after = await reconcileJson(env, config, ['--check', 'cache_drift'])
      expect(after.code).toBe(0)
      expect(after.json.checks.cache_drift.count).toBe(0)
    })

    it(`${format}: --cache-wrong-type keep leaves the keys of another type as they are, fixes the rest and exits 1 saying what it left`, async () => {
      const k = await seed(format, `${format}k`)
      const config = configFor(format, `${format}k`)
      const before = await redis.client.dump(k('o1'))
      const kept = await reconcileJson(env, config, ['--check', 'cache_drift', '--fix', '--yes', '--cache-wrong-type', 'keep'])
      expect(kept.code, kept.stderr).toBe(1)
      expectClean(kept)
      expect(kept.json.fixes.checks.cache_drift).toMatchObject({fixed: 2, notFixed: 3})
      expect(kept.json.fixes.checks.cache_drift.ids.sort()).toEqual(['o3', 'o5'])
      expect(kept.json.fixes.checks.cache_drift.note).toContain('left 3 keys of another Redis type')
      expect(kept.json.fixes.checks.cache_drift.note).toContain('--cache-wrong-type replace')
      // Byte for byte what it was, TTL included.
      expect(await redis.client.dump(k('o1'))).toEqual(before)
      expect(await redis.client.pttl(k('o1'))).toBeGreaterThan(500_000)
      expect(await redis.client.type(k('o4'))).toBe('list')
      expect(await redis.client.type(k('o6'))).toBe('set')
      expect(await redis.client.type(k('o5'))).toBe(expected)
      // The text output says it too, on one run that still exits 1 with no error line.
      const text = await runCli(['reconcile', '--config', config, '--check', 'cache_drift', '--fix', '--yes', '--cache-wrong-type', 'keep'], {env})
      expect(text.code).toBe(1)
      expect(text.stdout).toContain('of another Redis type')
      expect(text.stderr).not.toMatch(/Error|WRONGTYPE|\n\s+at /)
    })
  }

  it('with cache.onDrift delete, keep leaves the keys of another type and deletes the drifted ones; replace deletes them all', async () => {
    const k = await seed('hash', 'del')
    const kept = await reconcileJson(env, configFor('hash', 'del', 'delete'), ['--check', 'cache_drift', '--fix', '--yes', '--cache-wrong-type', 'keep'])
    expect(kept.code, kept.stderr).toBe(1)
    // o3 deleted; o1, o4, o6 kept; o5 missing (nothing to delete).
    expect(kept.json.fixes.checks.cache_drift).toMatchObject({action: 'delete the key', fixed: 1, notFixed: 4, ids: ['o3']})
    expect(await redis.client.exists(k('o1'), k('o3'), k('o4'), k('o6'))).toBe(3)
    const replaced = await reconcileJson(env, configFor('hash', 'del', 'delete'), ['--check', 'cache_drift', '--fix', '--yes'])
    expect(replaced.json.fixes.checks.cache_drift).toMatchObject({fixed: 3, notFixed: 2})
    expect(await redis.client.exists(k('o1'), k('o3'), k('o4'), k('o6'))).toBe(0)
  })

  it('--cache-wrong-type needs --fix and one of keep or replace: exit 2, one line', async () => {
    const config = configFor('hash', 'bad')
    for (const args of [['--cache-wrong-type', 'keep'], ['--fix', '--yes', '--cache-wrong-type', 'drop']]) {
      const bad = await runCli(['reconcile', '--config', config, ...args], {env})
      expect(bad.code, args.join(' ')).toBe(2)
      expect(bad.stderr.trim().split('\n')).toHaveLength(1)
      expect(bad.stderr).toContain('--cache-wrong-type')
      expect(bad.stderr).not.toMatch(/\n\s+at /)
    }
  })
})
