import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'
import {createReconcileWorld, reconcileJson as reconcileCli, type ReconcileWorld, sampleIds} from '../helpers/reconcile.js'

/**
 * A schema msgops did not create: integer statuses, camelCase columns, orders linked by messageId,
 * no aggregate id, no consumer column, the cache as a hash with a status field.
 */
let world: ReconcileWorld
let db: TestDatabase
let redis: TestRedis
let vhost: TestVhost
let conn: mysql.Connection
let dir: string
let configFile: string
let env: Record<string, string>

const OLD = 'NOW(3) - INTERVAL 1 HOUR'
const PAID = 10

const key = (id: number) => `${redis.prefix}ord:${id}`

const reconcileJson = (...args: string[]) => reconcileCli(env, configFile, ['--sample', '10', ...args])
const ids = sampleIds

beforeAll(async () => {
  world = await createReconcileWorld('msgops_reci', {exchange: 'order_exchange', type: 'direct', queue: 'orders_q', routingKey: 'order.created'})
  ;({db, redis, vhost, conn, dir, env} = world)
  configFile = join(dir, 'msgops.yaml')
  writeFileSync(
    configFile,
    `outbox:
  table: order_mq_tab
  columns: { id: messageId, payload: messageContent, status: messageStatus, createdAt: addTime }
  statuses: { pending: 1, sent: 2, deadLetter: 3 }
  exchange: order_exchange
  routingKey: order.created
inbox:
  table: consumer_mq_tab
  columns: { messageId: messageId, status: messageStatus, receivedAt: addTime }
  statuses: { received: null, processed: 1, failed: 0 }
orders:
  table: order_tab
  columns: { id: orderId, messageId: messageId, status: orderStatus, createdAt: addTime, updatedAt: null }
cache:
  keyPattern: "${redis.prefix}ord:{id}"
  format: hash
  field: status
`,
  )
  await conn.query(
    'CREATE TABLE order_tab (orderId BIGINT NOT NULL PRIMARY KEY, messageId VARCHAR(64) NULL, orderStatus INT NOT NULL, addTime DATETIME(3) NOT NULL, KEY idx_add (addTime), KEY idx_msg (messageId))',
  )
  await conn.query(
    'CREATE TABLE order_mq_tab (messageId VARCHAR(64) NOT NULL PRIMARY KEY, messageContent TEXT NOT NULL, messageStatus INT NOT NULL, addTime DATETIME(3) NOT NULL, KEY idx_status_add (messageStatus, addTime))',
  )
  await conn.query(
    'CREATE TABLE consumer_mq_tab (messageId VARCHAR(64) NOT NULL PRIMARY KEY, messageStatus INT NOT NULL, addTime DATETIME(3) NOT NULL, KEY idx_add (addTime))',
  )
  const order = (id: number, msg: string, at = OLD) => conn.query(`INSERT INTO order_tab VALUES (?, ?, ?, ${at})`, [id, msg, PAID])
  const out = (id: string, status: number, at = OLD) => conn.query(`INSERT INTO order_mq_tab VALUES (?, '{}', ?, ${at})`, [id, status])
  const inb = (id: string, status: number) => conn.query(`INSERT INTO consumer_mq_tab VALUES (?, ?, ${OLD})`, [id, status])

  await order(1, 'a1') // clean
  await out('a1', 2)
  await inb('a1', 1)
  await order(2, 'a2') // order_without_message
  await order(3, 'a3') // message_stuck
  await out('a3', 1)
  await order(4, 'a4') // message_dead
  await out('a4', 3)
  await order(5, 'a5') // sent_not_consumed; and its cache key is missing
  await out('a5', 2)
  await order(6, 'a6') // consumed_failed; and its cache field drifted
  await out('a6', 2)
  await inb('a6', 0)
  await out('a7', 2) // orphan_consumed: no order
  await inb('a7', 1)
  await inb('a9', 1) // orphan_consumed: no outbox row
  await order(8, 'a8', 'NOW(3) - INTERVAL 20 SECOND') // pending, 20 s old: inside the default grace
  await out('a8', 1, 'NOW(3) - INTERVAL 20 SECOND')
  await order(100, 'a100', 'NOW(3) - INTERVAL 3 DAY') // outside the window, no message, no cache

  for (const id of [1, 2, 3, 4, 8]) await redis.client.hset(key(id), 'status', String(PAID), 'name', `order ${id}`)
  await redis.client.hset(key(6), 'status', '99', 'name', 'order 6')
})

afterAll(async () => {
  await world?.cleanup()
})

describe('msgops reconcile on an integer-status schema (order_tab, order_mq_tab, consumer_mq_tab)', () => {
  it('finds every kind of discrepancy', async () => {
    const {code, json, stderr} = await reconcileJson()
    expect(code, stderr).toBe(1)
    expect(ids(json, 'order_without_message')).toEqual(['2'])
    expect(ids(json, 'message_stuck')).toEqual(['a3'])
    expect(ids(json, 'message_dead')).toEqual(['a4'])
    expect(ids(json, 'sent_not_consumed')).toEqual(['a5'])
    expect(ids(json, 'consumed_failed')).toEqual(['a6'])
    expect(json.checks.consumed_failed.samples[0].detail).toBe('status=0')
    expect(ids(json, 'orphan_consumed')).toEqual(['a7', 'a9'])
    expect(ids(json, 'cache_drift')).toEqual(['5', '6'])
    expect(json.checks.cache_drift.samples.find((s: any) => s.id === '6').detail).toBe('cache=99 db=10')
    expect(json.total).toBe(9)
  })

  it('window and grace: --grace 10s flags the 20-second-old pending row; --since 2d --until 2h shows the 3-day-old order only when widened', async () => {
    const short = await reconcileJson('--grace', '10s', '--check', 'message_stuck')
    expect(ids(short.json, 'message_stuck')).toEqual(['a3', 'a8'])
    const narrow = await reconcileJson('--since', '2d', '--until', '2h')
    expect(narrow.code).toBe(0)
    expect(narrow.json.total).toBe(0)
    const wide = await reconcileJson('--since', '4d', '--until', '2h', '--check', 'order_without_message')
    expect(ids(wide.json, 'order_without_message')).toEqual(['100'])
  })

  it('--fix --fix-dead --yes requeues and drains the integer rows, and rewrites the hash fields keeping the other fields', async () => {
    const {code, json, stderr} = await reconcileJson('--fix', '--fix-dead', '--yes')
    expect(code, stderr).toBe(1)
    expect(json.fixes.checks.sent_not_consumed).toMatchObject({fixed: 1, ids: ['a5']})
    expect(json.fixes.checks.message_dead).toMatchObject({fixed: 1, ids: ['a4']})
    // The stuck row and the two rows just set back to pending are published in the same run.
    expect(json.fixes.checks.message_stuck).toMatchObject({fixed: 3, notFixed: 0})
    expect(json.fixes.checks.message_stuck.ids.sort()).toEqual(['a3', 'a4', 'a5'])
    expect(json.fixes.checks.cache_drift).toMatchObject({fixed: 2})
    const [rows] = await conn.query<any[]>("SELECT messageId, messageStatus FROM order_mq_tab WHERE messageId IN ('a3', 'a4', 'a5', 'a8') ORDER BY messageId")
    expect(rows.map((r) => r.messageStatus)).toEqual([2, 2, 2, 1])
    expect(await redis.client.hgetall(key(6))).toEqual({status: '10', name: 'order 6'})
    expect(await redis.client.hget(key(5), 'status')).toBe('10')
    const after = await reconcileJson('--check', 'cache_drift', '--check', 'message_dead', '--check', 'message_stuck')
    expect(after.code).toBe(0)
  })
})
