import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import amqp, {type Channel, type ChannelModel} from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MysqlAdapter} from '../../src/adapters/mysql.js'
import {RedisAdapter} from '../../src/adapters/redis.js'
import {DEFAULTS} from '../../src/config/defaults.js'
import {writeAudit} from '../../src/core/audit.js'
import {acquireLock, type HeldLock, lockRegistry} from '../../src/core/lock.js'
import {resolveMappings} from '../../src/core/mapping.js'
import type {Row, SqlExecutor} from '../../src/core/ports.js'
import {readInbox} from '../../src/core/snapshot/inbox.js'
import {readOutbox} from '../../src/core/snapshot/outbox.js'
import {COUNT_CAP} from '../../src/core/outbox/status.js'
import {readLastReconcile} from '../../src/core/snapshot/reconcile.js'
import {startProxy, type CutProxy} from '../reliability/helpers/proxy.js'
import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, ORDERS_TOPOLOGY, REDIS_URL, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

let db: TestDatabase
let big: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let conn: mysql.Connection
let broker: ChannelModel
let ch: Channel
let lock: HeldLock
let lockRedis: RedisAdapter
let env: Record<string, string>
let topologyFile: string
let silent: CutProxy
let reconciled: Record<string, number>
let reconcileFile: string


async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function top(args: string[], extra: Record<string, string> = {}) {
  const result = await runCli(['top', '--once', '--json', '--topology', topologyFile, '--reconcile-metrics-file', reconcileFile, ...(args.includes('--timeout') ? [] : ['--timeout', '5s']), ...args], {env: {...env, ...extra}})
  let json: any
  try {
    json = JSON.parse(result.stdout)
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return {...result, json}
}

beforeAll(async () => {
  ;[db, big, vhost, redis] = await makeAll([createTestDatabase('msgops_top'), createTestDatabase('msgops_topx'), createTestVhost('msgops_top'), createTestRedis('msgops_top')] as const)
  env = cliEnv({db, vhost, redis})
  topologyFile = join('/tmp', `${db.name}.yaml`)
  writeFileSync(topologyFile, ORDERS_TOPOLOGY)
  expect((await runCli(['topology', 'apply', topologyFile, '--yes'], {env})).code).toBe(0)
  expect((await runCli(['schema', 'init'], {env})).code).toBe(0)
  conn = await mysql.createConnection(db.url)

  // Outbox: 2 pending rows 10 minutes old (stuck), 1 new; 2 sent a moment ago; 3 dead letters in 2 failure groups.
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at, last_error) VALUES
    ('p1', '{}', 'pending', NOW(3) - INTERVAL 600 SECOND, NULL, NULL), ('p2', '{}', 'pending', NOW(3) - INTERVAL 590 SECOND, NULL, NULL),
    ('p3', '{}', 'pending', NOW(3), NULL, NULL),
    ('s1', '{}', 'sent', NOW(3) - INTERVAL 5 SECOND, NOW(3), NULL), ('s2', '{}', 'sent', NOW(3) - INTERVAL 5 SECOND, NOW(3), NULL),
    ('d1', '{}', 'dead_letter', NOW(3), NULL, 'timeout after 30000 ms on 10.0.0.1'), ('d2', '{}', 'dead_letter', NOW(3), NULL, 'timeout after 30000 ms on 10.0.0.2'),
    ('d3', '{}', 'dead_letter', NOW(3), NULL, 'invalid payload')`)
  // Inbox: 3 processed with a lag of 100 ms, 200 ms and 1 s, 1 failed, all received within the last minute.
  await conn.query(`INSERT INTO inbox (message_id, status, received_at, processed_at) VALUES
    ('m1', 'processed', NOW(3) - INTERVAL 3 SECOND, NOW(3) - INTERVAL 3 SECOND + INTERVAL 100000 MICROSECOND),
    ('m2', 'processed', NOW(3) - INTERVAL 3 SECOND, NOW(3) - INTERVAL 3 SECOND + INTERVAL 200000 MICROSECOND),
    ('m3', 'processed', NOW(3) - INTERVAL 3 SECOND, NOW(3) - INTERVAL 2 SECOND),
    ('m4', 'failed', NOW(3) - INTERVAL 1 SECOND, NULL)`)

  // A real reading reconcile (it writes its metrics file; only --fix runs are audited), then a --fix run that failed.
  reconcileFile = join('/tmp', `${db.name}.prom`)
  const rec = await runCli(['reconcile', '--json', '--since', '1h', '--grace', '1s', '--metrics-file', reconcileFile], {env})
  expect([0, 1], rec.stderr).toContain(rec.code)
  reconciled = Object.fromEntries(Object.entries(JSON.parse(rec.stdout).checks as Record<string, {count: number; skipped?: string}>).filter(([, c]) => !c.skipped).map(([k, c]) => [k, c.count]))
  const auditSql = await MysqlAdapter.connect(db.url, 5000)
  await writeAudit(auditSql, 'msgops_audit', {command: 'reconcile', argv: ['--fix', '--yes'], outcome: {error: 'lock lost', durationMs: 500}, exitCode: 2})
  await auditSql.close()

  // The DLQ: 4 messages rejected by a consumer of orders.q (genuine x-death), then a consumer holding 2 unacked.
  broker = await amqp.connect(vhost.amqpUrl)
  ch = await broker.createChannel()
  for (let i = 0; i < 4; i++) ch.publish('orders.x', 'order.created', Buffer.from(`{"n":${i}}`), {messageId: `x${i}`, persistent: true})
  const rejecter = await broker.createChannel()
  let rejected = 0
  await rejecter.consume('orders.q', (msg) => {
    if (!msg) return
    rejecter.nack(msg, false, false)
    rejected++
  })
  await until(async () => rejected === 4 && (await ch.checkQueue('orders.dlq')).messageCount === 4, 'dead letters')
  await rejecter.close()
  const holder = await broker.createChannel()
  await holder.prefetch(10)
  await holder.consume('orders.q', () => {}, {noAck: false})
  for (let i = 0; i < 2; i++) ch.publish('orders.x', 'order.created', Buffer.from('{}'), {messageId: `h${i}`, persistent: true})

  lockRedis = await RedisAdapter.connect(REDIS_URL, 5000)
  lock = await acquireLock(lockRedis, `${redis.prefix}lock:drain`, {command: 'outbox:drain', registry: lockRegistry(redis.prefix)})
  silent = await startProxy(1)
  silent.cut('silent')
})

afterAll(async () => {
  await lock?.release().catch(() => {})
  await lockRedis?.close()
  await broker?.close().catch(() => {})
  await conn?.end()
  await silent?.close()
  rmSync(topologyFile, {force: true})
  rmSync(reconcileFile, {force: true})
  await Promise.all([db?.drop(), big?.drop(), vhost?.drop(), redis?.cleanup()])
})

describe('the snapshot against real services', () => {
  it('every figure equals what was made', async () => {
    // The management API's statistics lag a few seconds behind the broker: read until they caught up.
    let json: any
    let code: number | null = null
    await until(async () => {
      const r = await top([])
      json = r.json.result ?? r.json
      code = r.code
      const q = json.broker.data?.queues as {name: string; ready: number; unacked: number; consumers: number}[] | undefined
      const dlq = q?.find((x) => x.name === 'orders.dlq')
      const work = q?.find((x) => x.name === 'orders.q')
      return dlq?.ready === 4 && work?.unacked === 2 && work?.consumers === 1
    }, 'the management API to show the queues')
    expect(code).toBe(1)
    const o = json.outbox.data
    expect(json.outbox.state).toBe('ok')
    expect(o.counts).toEqual({pending: 3, sent: 2, 'dead-letter': 3})
    expect(o.stuck).toBe(2)
    expect(o.oldestPendingAgeMs).toBeGreaterThanOrEqual(600_000)
    expect(o.sentLastMinute).toBe(2)
    expect(o.failureGroups).toEqual([
      {key: 'timeout after # ms on #.#', count: 2, sample: expect.stringMatching(/^timeout after 30000 ms on 10\.0\.0\.[12]$/)},
      {key: 'invalid payload', count: 1, sample: 'invalid payload'},
    ])
    const queues = Object.fromEntries(json.broker.data.queues.map((q: any) => [q.name, q]))
    expect(json.broker.data.via).toBe('management')
    expect(queues['orders.dlq']).toMatchObject({deadLetter: true, exists: true, ready: 4, unacked: 0, consumers: 0, messages: 4})
    expect(queues['orders.q']).toMatchObject({deadLetter: false, exists: true, ready: 0, unacked: 2, consumers: 1})
    expect(queues['orders.q'].totals.publish).toBe(6)
    expect(json.broker.data.blockedConnections).toBe(0)
    expect(json.broker.data.alarms.every((a: any) => a.memory === false && a.disk === false)).toBe(true)
    expect(json.inbox.data).toEqual({table: 'inbox', receivedLastMinute: 4, failed: 1, failedApproximate: false, lag: {p50Ms: 200, p99Ms: 1000, of: 3}})
    // The newest run is the audited --fix that failed; the last completed one is what the reading run wrote.
    expect(json.reconcile.data.last).toMatchObject({exitCode: 2, error: 'lock lost', durationMs: 500, total: 0})
    expect(json.reconcile.data.lastSuccess).toMatchObject({id: 'metrics-file', findings: reconciled, total: Object.values(reconciled).reduce((a, b) => a + b, 0)})
    expect(json.reconcile.data.lastSuccess.durationMs).toBeGreaterThan(0)
    expect(json.locks.data.locks).toEqual([{name: 'drain', host: lock.owner.host, pid: lock.owner.pid, since: lock.owner.since, command: 'outbox:drain', ttlMs: expect.any(Number)}])
    expect(json.alerts.filter((a: string) => /^the oldest pending outbox row is .+ old \(threshold 5m\)$/.test(a))).toHaveLength(1)
  })

  it('passive declares stand in for a management API that does not answer, within the part timeout', async () => {
    const {json} = await top(['--timeout', '3s'], {MSGOPS_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${silent.port}`, MSGOPS_CONNECT_TIMEOUT: '1s'})
    const data = (json.result ?? json).broker.data
    expect(data.via).toBe('amqp')
    expect(Object.fromEntries(data.queues.map((q: any) => [q.name, [q.ready, q.consumers, q.unacked]]))).toEqual({'orders.q': [0, 1, null], 'orders.dlq': [4, 0, null]})
  })

  it('a source that is down shows as unreachable within its timeout while the others are shown (exit 2)', async () => {
    const broker = await top(['--timeout', '1s'], {MSGOPS_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${silent.port}`, MSGOPS_AMQP_URL: `amqp://guest:guest@127.0.0.1:${silent.port}/x`})
    expect(broker.code).toBe(2)
    expect(broker.stderr).toMatch(/unreachable: broker \(no answer within 1000 ms\)/)
    expect(broker.json.result.broker).toMatchObject({state: 'unreachable', error: 'no answer within 1000 ms'})
    expect(broker.json.result.outbox.data.counts.pending).toBe(3)
    expect(broker.json.result.locks.data.locks).toHaveLength(1)

    const url = new URL(db.url)
    url.port = String(silent.port)
    const mysqlDown = await top(['--timeout', '1s'], {MSGOPS_MYSQL_URL: url.toString()})
    expect(mysqlDown.code).toBe(2)
    for (const part of ['outbox', 'inbox', 'reconcile']) expect(mysqlDown.json.result[part]).toMatchObject({state: 'unreachable', error: expect.stringMatching(/no answer within 1000 ms/)})
    expect(mysqlDown.json.result.broker.state).toBe('ok')
    expect(mysqlDown.json.result.locks.data.locks[0].name).toBe('drain')
  })

  it('reads on indexes only: EXPLAIN of every outbox, inbox and audit query shows no full scan', async () => {
    const bigEnv = cliEnv({db: big, vhost, redis})
    expect((await runCli(['schema', 'init'], {env: bigEnv})).code).toBe(0)
    const c = await mysql.createConnection(big.url)
    try {
      await c.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at, last_error)
        SELECT CONCAT('o', seq), '{}', ELT(1 + seq % 10, 'pending', 'dead_letter', 'sent', 'sent', 'sent', 'sent', 'sent', 'sent', 'sent', 'sent'),
          NOW(3) - INTERVAL seq SECOND, IF(seq % 10 >= 2, NOW(3) - INTERVAL seq SECOND, NULL), IF(seq % 10 = 1, 'boom', NULL) FROM seq_1_to_30000`)
      await c.query(`INSERT INTO inbox (message_id, status, received_at, processed_at)
        SELECT CONCAT('o', seq), IF(seq % 50 = 0, 'failed', 'processed'), NOW(3) - INTERVAL seq SECOND, NOW(3) - INTERVAL seq SECOND + INTERVAL 5 SECOND FROM seq_1_to_30000`)
      await c.query('INSERT INTO msgops_audit (os_user, host, command, arguments, outcome, exit_code) SELECT \'u\', \'h\', IF(seq % 100 = 0, \'reconcile\', \'outbox:drain\'), \'[]\', \'{}\', 0 FROM seq_1_to_3000')
      await c.query('ANALYZE TABLE outbox, inbox, msgops_audit')
      const sql = await MysqlAdapter.connect(big.url, 5000)
      const seen: {sql: string; params: unknown[]}[] = []
      const recording: SqlExecutor = {
        query: <T extends Row>(text: string, params: unknown[] = []) => {
          seen.push({sql: text, params})
          return sql.query<T>(text, params)
        },
        execute: (text, params) => sql.execute(text, params),
      }
      try {
        const config = {...DEFAULTS, mysql: {url: big.url}}
        const {outbox, inbox} = await resolveMappings(sql, config, ['outbox', 'inbox'])
        await readOutbox(recording, config, outbox, 300_000)
        await readInbox(recording, inbox)
        await readLastReconcile(recording, config.audit.table)
        const reads = seen.filter((q) => !/information_schema/i.test(q.sql))
        expect(reads.length).toBeGreaterThanOrEqual(8)
        const fullScans: unknown[] = []
        for (const q of reads) {
          const plan = await sql.query<{table: string | null; type: string | null; key: string | null}>(`EXPLAIN ${q.sql}`, q.params)
          for (const step of plan) if (step.type === 'ALL' && step.table !== null && !step.table.startsWith('<')) fullScans.push({sql: q.sql, step})
        }
        expect(fullScans).toEqual([])
      } finally {
        await sql.close()
      }
    } finally {
      await c.end()
    }
  })

  it('caps the stuck count as every count: past COUNT_CAP it is COUNT_CAP, marked a lower bound', async () => {
    expect((await runCli(['schema', 'init'], {env: cliEnv({db: big, vhost, redis})})).code).toBe(0)
    const c = await mysql.createConnection(big.url)
    const sql = await MysqlAdapter.connect(big.url, 5000)
    try {
      // COUNT_CAP + 1 pending rows an hour old, beside the EXPLAIN test's ~3,000 (fewer than COUNT_CAP once these go).
      await c.query(`INSERT INTO outbox (id, payload, status, created_at) SELECT CONCAT('s', seq), '{}', 'pending', NOW(3) - INTERVAL 1 HOUR FROM seq_1_to_${COUNT_CAP + 1}`)
      const config = {...DEFAULTS, mysql: {url: big.url}}
      const {outbox} = await resolveMappings(sql, config, ['outbox'])
      const figures = await readOutbox(sql, config, outbox, 300_000)
      expect(figures.stuck).toBe(COUNT_CAP)
      expect(figures.approximate).toContain('stuck')
      await c.query("DELETE FROM outbox WHERE id LIKE 's%'")
      const fewer = await readOutbox(sql, config, outbox, 300_000)
      expect(fewer.stuck).toBeLessThan(COUNT_CAP)
      expect(fewer.approximate).not.toContain('stuck')
    } finally {
      await sql.close()
      await c.end()
    }
  })

  it('two statuses past COUNT_CAP: the smaller one a lower bound, the bigger the rest of the table, not the table split evenly', async () => {
    expect((await runCli(['schema', 'init'], {env: cliEnv({db: big, vhost, redis})})).code).toBe(0)
    const c = await mysql.createConnection(big.url)
    const sql = await MysqlAdapter.connect(big.url, 5000)
    try {
      // Beside the EXPLAIN test's rows: pending past the cap by a little, sent by three times as much.
      await c.query(`INSERT INTO outbox (id, payload, status, created_at) SELECT CONCAT('p', seq), '{}', 'pending', NOW(3) - INTERVAL 1 HOUR FROM seq_1_to_${COUNT_CAP + 1}`)
      await c.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('x', seq), '{}', 'sent', NOW(3) - INTERVAL 1 HOUR, NOW(3) FROM seq_1_to_${3 * COUNT_CAP}`)
      await c.query('ANALYZE TABLE outbox')
      const [[truth]] = await c.query<mysql.RowDataPacket[]>("SELECT SUM(status = 'pending') AS pending, SUM(status = 'sent') AS sent FROM outbox")
      const config = {...DEFAULTS, mysql: {url: big.url}}
      const {outbox} = await resolveMappings(sql, config, ['outbox'])
      const {counts, approximate} = await readOutbox(sql, config, outbox, 300_000)
      // An even split gave both ~(pending + sent) / 2: pending twice too many, sent a third too few.
      expect(approximate).toEqual(expect.arrayContaining(['≥pending', 'sent']))
      expect(counts.pending).toBe(COUNT_CAP)
      expect(Number(truth.pending)).toBeGreaterThan(COUNT_CAP)
      // Sent is the table statistics' rows (sampled: ±35% here) less the exact counts and the pending lower bound.
      const [[stat]] = await c.query<mysql.RowDataPacket[]>("SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outbox'")
      const exact = Object.entries(counts).filter(([name]) => !['pending', 'sent'].includes(name)).reduce((sum, [, n]) => sum + n, 0)
      expect(counts.sent).toBe(Math.max(COUNT_CAP, Number(stat.n) - exact - COUNT_CAP))
      expect(Number(truth.sent)).toBeGreaterThan(2 * COUNT_CAP)
    } finally {
      await c.query("DELETE FROM outbox WHERE id LIKE 'p%' OR id LIKE 'x%'")
      await sql.close()
      await c.end()
    }
  })
})
