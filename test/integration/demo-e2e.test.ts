import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let cwd: string
let env: Record<string, string>

const FIXABLE = ['message_stuck', 'message_dead', 'sent_not_consumed', 'cache_drift']
const REPORT_ONLY = ['order_without_message', 'consumed_failed', 'orphan_consumed']

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase(), createTestVhost(), createTestRedis()] as const)
  cwd = mkdtempSync(join(tmpdir(), 'msgops-demo-'))
  writeFileSync(join(cwd, 'msgops.yaml'), `cache:\n  keyPattern: "${redis.prefix}order:{id}"\n`)
  env = cliEnv({db, vhost, redis})
})

afterAll(async () => {
  if (cwd) rmSync(cwd, {recursive: true, force: true})
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
})

async function msgops(args: string[]) {
  const result = await runCli(args, {env, cwd, timeoutMs: 180_000})
  if (result.code === 2) throw new Error(`msgops ${args.join(' ')} failed: ${result.stderr}`)
  return result
}

describe('demo end to end', () => {
  it('reconcile finds exactly what the demo injected; after the fixes every fixable check is clean', async () => {
    const demo = await msgops(['demo', '--orders', '1500', '--fault-rate', '0.02', '--seed', '7', '--yes', '--json'])
    expect(demo.code).toBe(0)
    const report = JSON.parse(demo.stdout) as {orders: number; injected: Record<string, number>}
    expect(report.orders).toBe(1500)
    // With 1,500 orders at 2% each kind is expected about 30 times; none may be missing from the test.
    for (const count of Object.values(report.injected)) expect(count).toBeGreaterThan(5)
    expect(report.injected.duplicates_discarded).toBeGreaterThan(0)

    // Without --yes and without a terminal it refuses, and writes nothing.
    const refused = await runCli(['demo', '--orders', '10', '--seed', '8'], {env, cwd})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/--yes/)

    const before = await msgops(['reconcile', '--json'])
    expect(before.code).toBe(1)
    const found = JSON.parse(before.stdout) as {checks: Record<string, {count: number}>; total: number}
    for (const name of ['message_stuck', 'order_without_message', 'sent_not_consumed', 'consumed_failed', 'cache_drift'])
      expect({name, count: found.checks[name].count}).toEqual({name, count: report.injected[name]})
    expect(found.checks.message_dead.count).toBe(0)
    expect(found.checks.orphan_consumed.count).toBe(0)

    const dlq = await msgops(['dlq', 'inspect', 'order_queue.dlq', '--json'])
    expect(JSON.parse(dlq.stdout).depth).toBe(report.injected.dead_lettered)

    // The same seed gives the same faults: a second demo refuses to mix with the first without --reset.
    const again = await runCli(['demo', '--orders', '10', '--seed', '7', '--yes'], {env, cwd})
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/--reset/)

    const fix = await msgops(['reconcile', '--fix', '--yes', '--json'])
    expect(fix.code).toBe(1)
    const replay = await msgops(['dlq', 'replay', 'order_queue.dlq', '--yes', '--json'])
    expect(JSON.parse(replay.stdout).moved).toBe(report.injected.dead_lettered)
    const drain = await msgops(['outbox', 'drain', '--yes', '--json'])
    expect(drain.code).toBe(0)
    const consume = await msgops(['demo', '--consume-only', '--yes', '--json'])
    expect(consume.code).toBe(0)

    const fixable = await msgops(['reconcile', '--json', ...FIXABLE.flatMap((c) => ['--check', c])])
    const after = JSON.parse(fixable.stdout) as {checks: Record<string, {count: number}>; total: number}
    expect(Object.fromEntries(FIXABLE.map((c) => [c, after.checks[c].count]))).toEqual(Object.fromEntries(FIXABLE.map((c) => [c, 0])))
    expect(fixable.code).toBe(0)

    // Report-only checks are never "fixed" by inventing data: they stay as found.
    const reportOnly = await msgops(['reconcile', '--json', ...REPORT_ONLY.flatMap((c) => ['--check', c])])
    const still = JSON.parse(reportOnly.stdout) as {checks: Record<string, {count: number}>}
    expect(still.checks.order_without_message.count).toBe(report.injected.order_without_message)
    expect(still.checks.consumed_failed.count).toBe(report.injected.consumed_failed)
    expect(reportOnly.code).toBe(1)
  })
})

describe('SIGINT', () => {
  it('stops a running command with exit 130 and one line, releasing its connections', async () => {
    const [ownDb, ownVhost] = await makeAll([createTestDatabase(), createTestVhost()] as const)
    try {
      const {spawn} = await import('node:child_process')
      const {RUN_JS} = await import('../helpers/env.js')
      const child = spawn(process.execPath, [RUN_JS, 'demo', '--orders', '200000', '--yes'], {
        cwd,
        env: {...process.env, ...cliEnv({db: ownDb, vhost: ownVhost, redis}), NO_COLOR: '1'},
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      // Wait until it is writing orders, then interrupt.
      await new Promise((resolve) => setTimeout(resolve, 4000))
      child.kill('SIGINT')
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
      expect(code).toBe(130)
      expect(stderr).toMatch(/interrupted/)
      expect(stderr).not.toMatch(/\n\s+at /)
    } finally {
      await Promise.all([ownDb.drop(), ownVhost.drop()])
    }
  })
})
