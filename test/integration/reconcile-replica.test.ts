import type mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {cliEnv, createTestRedis, runCli, type TestRedis} from '../helpers/env.js'
import {caughtUp, type ServerPair, startServerPair} from '../helpers/mariadb-pair.js'
import {spawnCli, waitFor} from '../reliability/helpers/world.js'

/**
 * Reading from a replica needs one, and the shared server must not be reconfigured: this file starts its own MariaDB
 * primary and replica (test/helpers/mariadb-pair.ts), bounded in time, removed after. Read-only work reads the
 * replica; a candidate only late on the replica is never reported; a stopped SQL thread pauses reconcile until it runs
 * again, or stops it after --max-lag-wait; a replica that is down is exit 2 in one line.
 */
let pair: ServerPair
let primary: mysql.Connection
let replica: mysql.Connection
let redis: TestRedis
let env: Record<string, string>
let replicaUrl: string

const OLD = 'NOW(3) - INTERVAL 2 DAY'
const reconcileArgs = ['reconcile', '--since', '30d', '--grace', '1m', '--sample', '100', '--max-load', '0']

async function json(args: string[]) {
  const result = await runCli([...args, '--json'], {env, timeoutMs: 90_000})
  try {
    return {...result, json: JSON.parse(result.stdout)}
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
}

const ids = (j: any, check: string) => j.checks[check].samples.map((s: any) => s.id).sort()

beforeAll(async () => {
  pair = await startServerPair()
  primary = await pair.connect('primary')
  replica = await pair.connect('replica')
  redis = await createTestRedis('msgops_rrepl')
  await primary.query('CREATE DATABASE shop')
  // The cache keys under the test's own prefix.
  const config = join(pair.dir, 'msgops.yaml')
  writeFileSync(config, `cache: {keyPattern: "${redis.prefix}order:{id}"}\n`)
  env = {...cliEnv({redis}), MSGOPS_MYSQL_URL: pair.url('primary', 'shop'), MSGOPS_CONFIG: config}
  replicaUrl = pair.url('replica', 'shop')
  expect((await runCli(['schema', 'init'], {env})).code).toBe(0)
  for (let i = 1; i <= 40; i++) {
    const n = String(i).padStart(3, '0')
    await primary.query(`INSERT INTO shop.orders (id, message_id, status, created_at, updated_at) VALUES (?, ?, 'paid', ${OLD}, ${OLD})`, [`o${n}`, `m${n}`])
    await primary.query(`INSERT INTO shop.outbox (id, payload, status, created_at, sent_at) VALUES (?, '{}', 'sent', ${OLD}, ${OLD})`, [`m${n}`])
    // m040: sent and never consumed, on both servers: the one real finding.
    if (i !== 40) await primary.query(`INSERT INTO shop.inbox (message_id, consumer, status, received_at) VALUES (?, 'billing', 'processed', ${OLD})`, [`m${n}`])
    await redis.client.set(`${redis.prefix}order:o${n}`, 'paid')
  }
  await caughtUp(primary, replica)
}, 180_000)

afterAll(async () => {
  await primary?.end().catch(() => {})
  await replica?.end().catch(() => {})
  await redis?.cleanup()
  await pair?.stop()
}, 60_000)

describe('reconcile and the read commands on a replica (a private primary and replica)', () => {
  it('doctor shows the replica, its lag and that it is read-only', async () => {
    const doctor = await json(['doctor', '--replica-url', replicaUrl])
    const checks = Array.isArray(doctor.json) ? doctor.json : doctor.json.error ? doctor.json.result : []
    const row = checks.find((c: any) => c.name === 'mysql.replica')
    expect(row).toMatchObject({ok: true})
    expect(row.detail, row.detail).toMatch(/MariaDB.* at mysql:\/\/root@127\.0\.0\.1:\d+\/shop; lag \d+(\.\d)?s \(replica status\); read-only/)
  }, 60_000)

  it('a row only late on the replica is never reported: every candidate is confirmed on the primary', async () => {
    // What a lagging replica shows: an inbox record not there yet, a sent row still pending, an order status not yet changed.
    await replica.query('SET SESSION sql_log_bin = 0')
    await replica.query("DELETE FROM shop.inbox WHERE message_id = 'm005'")
    await replica.query("UPDATE shop.outbox SET status = 'pending', sent_at = NULL WHERE id = 'm006'")
    await replica.query("UPDATE shop.orders SET status = 'created', updated_at = updated_at WHERE id = 'o007'")
    const onReplica = await json([...reconcileArgs, '--mysql-url', replicaUrl])
    // Read alone, the replica has them all as findings...
    expect(ids(onReplica.json, 'sent_not_consumed')).toEqual(['m005', 'm040'])
    expect(ids(onReplica.json, 'message_stuck')).toEqual(['m006'])
    expect(ids(onReplica.json, 'cache_drift')).toEqual(['o007'])
    // ...read through it, with the primary's final checks, only the real one is left.
    for (const plan of ['auto', 'lookup']) {
      const run = await json([...reconcileArgs, '--replica-url', replicaUrl, '--plan', plan])
      expect(run.code, run.stderr).toBe(1)
      expect(ids(run.json, 'sent_not_consumed')).toEqual(['m040'])
      expect(run.json.checks.message_stuck.count).toBe(0)
      expect(run.json.checks.cache_drift.count).toBe(0)
      expect(run.json.replica).toMatchObject({url: replicaUrl})
      expect(run.json.replica.late).toBeGreaterThanOrEqual(plan === 'auto' ? 2 : 3)
    }
    // outbox status and show read the replica: the row pending there only.
    const status = await json(['outbox', 'status', '--replica-url', replicaUrl])
    const onPrimary = await json(['outbox', 'status'])
    expect(JSON.stringify(status.json)).not.toEqual(JSON.stringify(onPrimary.json))
    const shown = await json(['outbox', 'show', 'm006', '--replica-url', replicaUrl])
    expect(shown.json.status).toBe('pending')
    expect((await json(['outbox', 'show', 'm006'])).json.status).toBe('sent')
  }, 120_000)

  it('pauses while the replica does not apply (SQL thread stopped), says why, goes on once it runs again', async () => {
    await replica.query('STOP SLAVE SQL_THREAD')
    await primary.query(`INSERT INTO shop.orders (id, message_id, status, created_at, updated_at) VALUES ('o100', 'm100', 'paid', ${OLD}, ${OLD})`)
    const run = spawnCli([...reconcileArgs, '--replica-url', replicaUrl, '--max-lag', '1s'], env, 90_000)
    let stderr = ''
    run.child.stderr!.on('data', (d) => (stderr += d))
    await waitFor('the pause notice', () => /paused: replica 127\.0\.0\.1:\d+: replication not running/.test(stderr), 30_000)
    await replica.query('START SLAVE SQL_THREAD')
    const result = await run.result
    expect(result.code, result.stderr).toBe(1)
    expect(result.stderr).toMatch(/going on: the pause is over/)
    expect(result.stdout).toMatch(/paused \d+\.\ds on load or replica lag/)
    // The order written while it paused is there: read after the replica caught up.
    expect(result.stdout, result.stdout).toMatch(/order_without_message\W+1\W.*o100/)
  }, 120_000)

  it('stops with exit 2 and one line after --max-lag-wait', async () => {
    await replica.query('STOP SLAVE SQL_THREAD')
    try {
      const run = await runCli([...reconcileArgs, '--replica-url', replicaUrl, '--max-lag-wait', '2s'], {env})
      expect(run.code).toBe(2)
      const errors = run.stderr.split('\n').filter((l) => l.startsWith('Error:'))
      expect(errors).toEqual([expect.stringMatching(/reconcile stopped: replica 127\.0\.0\.1:\d+: replication not running for longer than --max-lag-wait 2s/)])
    } finally {
      await replica.query('START SLAVE SQL_THREAD')
    }
  }, 60_000)

  it('a replica that is down is exit 2 in one line naming it', async () => {
    await replica.end()
    await pair.kill('replica')
    const run = await runCli([...reconcileArgs, '--replica-url', replicaUrl], {env})
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: cannot reach the MySQL replica at mysql:\/\/root@127\.0\.0\.1:\d+\/shop: connection refused; .*--replica-url/)])
    const status = await runCli(['outbox', 'status', '--replica-url', replicaUrl], {env})
    expect(status.code).toBe(2)
    expect(status.stderr).toMatch(/cannot reach the MySQL replica/)
  }, 60_000)
})
