import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import amqp from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'
import {createReconcileWorld, reconcileJson as reconcileCli, type ReconcileWorld, sampleIds} from '../helpers/reconcile.js'

/**
 * The reference schema (`msgops schema init`), every check, window and grace boundaries, every fix path and the lock.
 * Ages: "old" rows are 1 hour old; "young" ones 30 s (inside the default 5m grace); m6 is 2 min old.
 */
let world: ReconcileWorld
let db: TestDatabase
let redis: TestRedis
let vhost: TestVhost
let conn: mysql.Connection
let dir: string
let configFile: string
let deleteConfigFile: string
let env: Record<string, string>

const OLD = 'NOW(3) - INTERVAL 1 HOUR'
const YOUNG = 'NOW(3) - INTERVAL 30 SECOND'

async function order(id: string, messageId: string, status: string, at = OLD) {
  await conn.query(`INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES (?, ?, ?, ${at}, ${at})`, [id, messageId, status])
}

async function outbox(id: string, status: string, aggregateId: string | null, at = OLD, sentAt: string | null = null) {
  await conn.query(
    `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload, status, attempts, created_at, sent_at) VALUES (?, 'order', ?, 'order.created', 'orders', 'order.created', '{}', ?, 2, ${at}, ${sentAt ?? 'NULL'})`,
    [id, aggregateId, status],
  )
}

async function inbox(messageId: string, status: string, at = OLD) {
  await conn.query(`INSERT INTO inbox (message_id, consumer, status, received_at) VALUES (?, 'billing', ?, ${at})`, [messageId, status])
}

const key = (id: string) => `${redis.prefix}order:${id}`

const reconcileJson = (...args: string[]) => reconcileCli(env, configFile, [...args])
const ids = sampleIds

beforeAll(async () => {
  world = await createReconcileWorld('msgops_rec', {exchange: 'orders', type: 'topic', queue: 'billing', routingKey: 'order.created'})
  ;({db, redis, vhost, conn, dir, env} = world)
  configFile = join(dir, 'msgops.yaml')
  deleteConfigFile = join(dir, 'delete.yaml')
  writeFileSync(configFile, `cache:\n  keyPattern: "${redis.prefix}order:{id}"\n`)
  writeFileSync(deleteConfigFile, `cache:\n  keyPattern: "${redis.prefix}order:{id}"\n  onDrift: delete\n`)
  const init = await runCli(['schema', 'init', '--config', configFile], {env})
  expect(init.code, init.stderr).toBe(0)

  // o1: all in order.
  await order('o1', 'm1', 'paid')
  await outbox('m1', 'sent', 'o1')
  await inbox('m1', 'processed')
  // order_without_message: o2 (old); o3 young and o4 outside the 24h window are not flagged.
  await order('o2', 'm2', 'paid')
  await order('o3', 'm3', 'paid', YOUNG)
  await order('o4', 'm4', 'paid', 'NOW(3) - INTERVAL 25 HOUR')
  // message_stuck: m5; m6 is 2 minutes old (inside the 5m grace).
  await order('o5', 'm5', 'paid')
  await outbox('m5', 'pending', 'o5')
  await order('o6', 'm6', 'paid')
  await outbox('m6', 'pending', 'o6', 'NOW(3) - INTERVAL 2 MINUTE')
  // message_dead: m7.
  await order('o7', 'm7', 'paid')
  await outbox('m7', 'dead_letter', 'o7')
  // sent_not_consumed: m8; m9 was sent 30 s ago (grace on sent_at).
  await order('o8', 'm8', 'paid')
  await outbox('m8', 'sent', 'o8', OLD, OLD)
  await order('o9', 'm9', 'paid')
  await outbox('m9', 'sent', 'o9', OLD, YOUNG)
  // consumed_failed: m10 failed, m11 received and never processed.
  await order('o10', 'm10', 'paid')
  await outbox('m10', 'sent', 'o10')
  await inbox('m10', 'failed')
  await order('o11', 'm11', 'paid')
  await outbox('m11', 'sent', 'o11')
  await inbox('m11', 'received')
  // orphan_consumed: m12 has no outbox row; m13 has one but no order.
  await inbox('m12', 'processed')
  await outbox('m13', 'sent', 'o13')
  await inbox('m13', 'processed')
  // cache_drift: o14 holds another status, o15 has no key.
  await order('o14', 'm14', 'paid')
  await outbox('m14', 'sent', 'o14')
  await inbox('m14', 'processed')
  await order('o15', 'm15', 'paid')
  await outbox('m15', 'sent', 'o15')
  await inbox('m15', 'processed')

  for (const id of ['o1', 'o2', 'o5', 'o6', 'o7', 'o8', 'o9', 'o10', 'o11']) await redis.client.set(key(id), 'paid')
  await redis.client.set(key('o14'), 'created')
})

afterAll(async () => {
  await world?.cleanup()
})

describe('msgops reconcile on the reference schema', () => {
  it('finds every kind of discrepancy, and only those, with exit 1', async () => {
    const {code, json, stderr} = await reconcileJson('--sample', '10')
    expect(code, stderr).toBe(1)
    expect(Object.keys(json.checks)).toEqual([
      'order_without_message',
      'message_stuck',
      'message_dead',
      'sent_not_consumed',
      'consumed_failed',
      'orphan_consumed',
      'cache_drift',
    ])
    expect(ids(json, 'order_without_message')).toEqual(['o2'])
    expect(ids(json, 'message_stuck')).toEqual(['m5'])
    expect(ids(json, 'message_dead')).toEqual(['m7'])
    expect(ids(json, 'sent_not_consumed')).toEqual(['m8'])
    expect(ids(json, 'consumed_failed')).toEqual(['m10', 'm11'])
    expect(ids(json, 'orphan_consumed')).toEqual(['m12', 'm13'])
    expect(ids(json, 'cache_drift')).toEqual(['o14', 'o15'])
    expect(json.checks.orphan_consumed.samples.map((s: any) => s.detail).sort()).toEqual(['no order (consumer billing)', 'no outbox row (consumer billing)'])
    expect(json.checks.cache_drift.samples.find((s: any) => s.id === 'o14').detail).toBe('cache=created db=paid')
    expect(json.checks.cache_drift.samples.find((s: any) => s.id === 'o15').detail).toBe('missing')
    expect(json.checks.consumed_failed.count).toBe(2)
    expect(json.total).toBe(10)
    expect(json.checks.message_stuck.oldest).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/)
    expect(json.window.grace).toBe('5m')
  })

  it('gives every drifted order its time when the cache scan reads none (a window over the whole table), page after page', async () => {
    // Pages of one order: the times are looked up while the next page is still in Redis.
    const {code, json, stderr} = await reconcileJson('--check', 'cache_drift', '--since', '30d', '--batch-size', '1', '--sample', '10')
    expect(code, stderr).toBe(1)
    expect(ids(json, 'cache_drift')).toEqual(['o14', 'o15', 'o4'])
    for (const sample of json.checks.cache_drift.samples) expect(sample.at, sample.id).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/)
    expect(json.checks.cache_drift.oldest).toBe(json.checks.cache_drift.samples.find((s: any) => s.id === 'o4').at)
  })

  it('links orders by the outbox aggregate id when orders.columns.messageId is not mapped', async () => {
    const byAggregate = join(dir, 'aggregate.yaml')
    writeFileSync(byAggregate, `cache:\n  keyPattern: "${redis.prefix}order:{id}"\norders:\n  columns: { messageId: null }\n`)
    const result = await runCli(['reconcile', '--json', '--config', byAggregate, '--check', 'order_without_message', '--check', 'orphan_consumed'], {env})
    expect(result.code, result.stderr).toBe(1)
    const json = JSON.parse(result.stdout)
    expect(ids(json, 'order_without_message')).toEqual(['o2'])
    expect(ids(json, 'orphan_consumed')).toEqual(['m12', 'm13'])
  })

  it('prints a table per check for a person and writes the metrics file', async () => {
    const metrics = join(dir, 'reconcile.prom')
    const result = await runCli(['reconcile', '--config', configFile, '--check', 'message_dead', '--check', 'orphan_consumed', '--metrics-file', metrics], {env})
    expect(result.code, result.stderr).toBe(1)
    expect(result.stdout).toContain('message_dead')
    expect(result.stdout).toContain('m7')
    expect(result.stdout).not.toContain('cache_drift')
    expect(result.stdout).toContain('3 discrepancies found')
    const text = readFileSync(metrics, 'utf8')
    expect(text).toContain('msgops_reconcile_findings{check="message_dead"} 1')
    expect(text).toContain('msgops_reconcile_findings{check="orphan_consumed"} 2')
    expect(text).toMatch(/msgops_reconcile_last_success_timestamp_seconds \d+/)
  })

  it('runs only the checks asked for and exits 0 when they are clean', async () => {
    const {code, json} = await reconcileJson('--check', 'message_stuck', '--since', '30m')
    expect(code).toBe(0)
    expect(Object.keys(json.checks)).toEqual(['message_stuck'])
    expect(json.total).toBe(0)
  })

  it('honours the window: --since and --until bound every check', async () => {
    // 30h ago .. 2h ago holds only o4 (25 h old), which has no outbox row and no cache key.
    const {code, json} = await reconcileJson('--since', '30h', '--until', '2h')
    expect(code).toBe(1)
    expect(ids(json, 'order_without_message')).toEqual(['o4'])
    expect(ids(json, 'cache_drift')).toEqual(['o4'])
    expect(json.total).toBe(2)
    const recent = await reconcileJson('--since', '50m')
    expect(recent.code).toBe(0)
    expect(recent.json.total).toBe(0)
  })

  it('honours the grace: a longer grace hides the hour-old rows, a shorter one flags the 2-minute-old and 30-second-old ones', async () => {
    const long = await reconcileJson('--grace', '90m')
    expect(long.code).toBe(0)
    expect(long.json.total).toBe(0)
    const short = await reconcileJson('--grace', '10s', '--sample', '10')
    expect(ids(short.json, 'message_stuck')).toEqual(['m5', 'm6'])
    expect(ids(short.json, 'sent_not_consumed')).toEqual(['m8', 'm9'])
    expect(ids(short.json, 'order_without_message')).toEqual(['o2', 'o3'])
  })

  it('refuses bad input with exit 2 and one line', async () => {
    const bad = await runCli(['reconcile', '--config', configFile, '--since', '1h', '--until', '2h'], {env})
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('the window is empty')
    const grace = await runCli(['reconcile', '--config', configFile, '--grace', '5'], {env})
    expect(grace.code).toBe(2)
    expect(grace.stderr).toContain('--grace "5" has no unit')
    const noYes = await runCli(['reconcile', '--config', configFile, '--fix'], {env})
    expect(noYes.code).toBe(2)
    expect(noYes.stderr).toContain('pass --yes')
  })

  it('--fix --dry-run tells what it would repair and changes nothing', async () => {
    const {code, json} = await reconcileJson('--fix', '--dry-run')
    expect(code).toBe(1)
    expect(json.fixes.dryRun).toBe(true)
    expect(json.fixes.checks.sent_not_consumed).toMatchObject({action: 'set back to pending', fixed: 1})
    expect(json.fixes.checks.cache_drift).toMatchObject({action: 'rewrite from MySQL', fixed: 2})
    expect(json.fixes.checks.message_dead.note).toContain('--fix-dead')
    expect(json.fixes.checks.message_stuck).toMatchObject({action: 'drain (publish with confirms)', fixed: 1})
    const [rows] = await conn.query<any[]>("SELECT status FROM outbox WHERE id = 'm8'")
    expect(rows[0].status).toBe('sent')
    expect(await redis.client.get(key('o14'))).toBe('created')
  })

  it('--fix --yes requeues sent-not-consumed rows and drains them with the stuck ones, rewrites the cache, leaves dead letters, and audits', async () => {
    const {code, json, stderr} = await reconcileJson('--fix', '--yes')
    expect(code, stderr).toBe(1)
    expect(Object.keys(json.fixes.checks)).toEqual(['sent_not_consumed', 'message_dead', 'message_stuck', 'cache_drift'])
    expect(json.fixes.checks.sent_not_consumed).toMatchObject({action: 'set back to pending', fixed: 1, ids: ['m8']})
    expect(json.fixes.checks.message_stuck).toMatchObject({action: 'drain (publish with confirms)', fixed: 2, notFixed: 0})
    expect(json.fixes.checks.message_stuck.ids.sort()).toEqual(['m5', 'm8'])
    expect(json.fixes.checks.cache_drift.fixed).toBe(2)
    expect(json.fixes.checks.message_dead).toMatchObject({fixed: 0, notFixed: 1})
    const [rows] = await conn.query<any[]>("SELECT id, status, last_error, sent_at FROM outbox WHERE id IN ('m5', 'm7', 'm8') ORDER BY id")
    expect(rows.map((r) => r.status)).toEqual(['sent', 'dead_letter', 'sent'])
    expect(rows[2].last_error).toContain('sent but never consumed')
    // The drained messages really reached the queue, with their message ids.
    const broker = await amqp.connect(vhost.amqpUrl)
    const channel = await broker.createChannel()
    const got: string[] = []
    for (let n = 0; n < 3; n++) {
      const message = await channel.get('billing', {noAck: true})
      if (message) got.push(String(message.properties.messageId))
    }
    await broker.close()
    expect(got.sort()).toEqual(['m5', 'm8'])
    expect(await redis.client.get(key('o14'))).toBe('paid')
    expect(await redis.client.get(key('o15'))).toBe('paid')
    const [audit] = await conn.query<any[]>("SELECT command, outcome, exit_code FROM msgops_audit WHERE command = 'reconcile'")
    expect(audit).toHaveLength(1)
    expect(audit[0].exit_code).toBe(1)
    const outcome = typeof audit[0].outcome === 'string' ? JSON.parse(audit[0].outcome) : audit[0].outcome
    expect(outcome.fixes.sent_not_consumed.fixed).toBe(1)
    expect(outcome.fixes.message_stuck.fixed).toBe(2)
    // Both were just sent (inside the grace), the cache is clean; what cannot be repaired is still reported.
    const after = await reconcileJson('--sample', '10')
    expect(after.json.checks.message_stuck.count).toBe(0)
    expect(after.json.checks.sent_not_consumed.count).toBe(0)
    expect(after.json.checks.cache_drift.count).toBe(0)
    expect(after.json.total).toBe(6)
  })

  it('--fix --fix-dead sets dead letters back to pending with their attempts reset', async () => {
    const {code, json} = await reconcileJson('--fix', '--fix-dead', '--yes', '--check', 'message_dead')
    // Everything it found was repaired: exit 0, as terraform apply does.
    expect(code).toBe(0)
    expect(json.fixes.checks.message_dead).toMatchObject({action: 'set back to pending', fixed: 1, ids: ['m7']})
    const [rows] = await conn.query<any[]>("SELECT status, attempts FROM outbox WHERE id = 'm7'")
    expect(rows[0]).toMatchObject({status: 'pending', attempts: 0})
  })

  it('with cache.onDrift delete, a drifted key is deleted and a missing one is reported as not fixed', async () => {
    await redis.client.set(key('o14'), 'shipped')
    await redis.client.del(key('o15'))
    const result = await runCli(['reconcile', '--json', '--config', deleteConfigFile, '--check', 'cache_drift', '--fix', '--yes'], {env})
    const json = JSON.parse(result.stdout)
    expect(result.code).toBe(1)
    expect(json.fixes.checks.cache_drift).toMatchObject({action: 'delete the key', fixed: 1, notFixed: 1, ids: ['o14']})
    expect(await redis.client.exists(key('o14'))).toBe(0)
    await redis.client.set(key('o14'), 'paid')
    await redis.client.set(key('o15'), 'paid')
  })

  it('a second run while one holds the lock exits 2 with the holder; --wait-lock waits for it', async () => {
    const lockKey = `${redis.prefix}lock:reconcile`
    const owner = JSON.stringify({token: 'x', host: 'other-host', pid: 4242, since: '2026-01-01T00:00:00.000Z', command: 'reconcile'})
    await redis.client.set(lockKey, owner, 'PX', 60_000)
    const held = await runCli(['reconcile', '--config', configFile], {env})
    expect(held.code).toBe(2)
    expect(held.stderr).toContain('held by other-host/4242')
    expect(held.stdout).toBe('')
    // Released 1.5 s later: a run that waits up to 30 s goes ahead.
    await redis.client.pexpire(lockKey, 1500)
    const waited = await runCli(['reconcile', '--config', configFile, '--check', 'message_dead', '--wait-lock', '30s'], {env})
    expect(waited.code, waited.stderr).toBe(0)
    expect(await redis.client.exists(lockKey)).toBe(0)
  })
})
