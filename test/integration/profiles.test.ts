import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {OUTPUT_SCHEMAS} from '../../src/render/json/index.js'
import {createTestDatabase, createTestRedis, makeAll, runCli, type TestDatabase, type TestRedis} from '../helpers/env.js'

/** Many databases: a command over several profiles, side by side; one unreachable target does not hide the others. */
let shopA: TestDatabase
let shopB: TestDatabase
let redis: TestRedis
let dir: string

beforeAll(async () => {
  ;[shopA, shopB, redis] = await makeAll([createTestDatabase(), createTestDatabase(), createTestRedis()] as const)
  dir = mkdtempSync(join(tmpdir(), 'msgops-profiles-'))
  writeFileSync(join(dir, 'msgops.yaml'), [
    `redis: {keyPrefix: "${redis.prefix}"}`,
    'profiles:',
    `  eu: {mysql: {url: "${shopA.url}"}}`,
    `  us: {mysql: {url: "${shopB.url}"}}`,
    '  down: {mysql: {url: "mysql://root@127.0.0.1:1/none"}}',
    '',
  ].join('\n'))
  for (const db of [shopA, shopB]) expect((await runCli(['schema', 'init', '--mysql-url', db.url])).code).toBe(0)
  const mysql = await import('mysql2/promise')
  const conn = await mysql.createConnection(shopB.url)
  await conn.query("INSERT INTO outbox (id, payload, status, created_at) VALUES ('us-1', '{}', 'dead_letter', NOW(3))")
  await conn.end()
})

afterAll(async () => {
  await Promise.all([shopA?.drop(), shopB?.drop(), redis?.cleanup()])
  rmSync(dir, {recursive: true, force: true})
})

describe('several profiles', () => {
  it('--all-profiles: a section per target, a summary, JSON keyed by profile, the worst exit code', async () => {
    const json = await runCli(['outbox', 'status', '--all-profiles', '--fail-if-dead-letters', '1', '--json'], {cwd: dir})
    expect(json.code).toBe(2)
    const body = JSON.parse(json.stdout) as {profiles: Record<string, any>; exitCodes: Record<string, number>; exitCode: number}
    expect(body.exitCodes).toEqual({eu: 0, us: 1, down: 2})
    expect(body.exitCode).toBe(2)
    // The --json contract covers the run over profiles too.
    expect(OUTPUT_SCHEMAS['outbox:status'].safeParse(body).success).toBe(true)
    expect(body.profiles.eu.counts).toMatchObject({pending: 0})
    expect(body.profiles.us.counts).toMatchObject({'dead-letter': 1})
    expect(body.profiles.down.error).toMatchObject({kind: 'connection', exitCode: 2})

    const human = await runCli(['outbox', 'status', '--profile', 'eu', '--profile', 'us', '--concurrency', '1'], {cwd: dir})
    expect(human.code).toBe(0)
    expect(human.stdout.indexOf('── eu ──')).toBeLessThan(human.stdout.indexOf('── us ──'))
    expect(human.stdout).toMatch(/msgops outbox status over 2 profiles/)
    expect(human.stdout).toMatch(/│ eu +│ 0 +│ ok/)
  })

  it('an unreachable target is one line of its own, prefixed with its profile, and the others are still reported', async () => {
    const r = await runCli(['doctor', '--all-profiles'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^\[down\] Error: cannot connect to MySQL at mysql:\/\/root@127\.0\.0\.1:1\/none: connection refused/m)
    expect(r.stdout).toMatch(/── eu ──[\s\S]*✓ │ mysql.outbox[\s\S]*── us ──/)
    expect(r.stdout).toMatch(/│ down +│ 2 +│ cannot connect to MySQL/)
  })

  it('a command for one target refuses several, and an unknown profile is named', async () => {
    const many = await runCli(['outbox', 'drain', '--profile', 'eu', '--profile', 'us', '--yes'], {cwd: dir})
    expect(many.code).toBe(2)
    expect(many.stderr).toMatch(/^Error: msgops outbox drain runs against one target; --profile was given 2 times/)
    const unknown = await runCli(['doctor', '--profile', 'eu', '--profile', 'asia'], {cwd: dir})
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/profile "asia" is not defined/)
  })
})
