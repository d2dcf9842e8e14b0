import {createServer, type Server} from 'node:net'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {AmqpAdapter} from '../../src/adapters/amqp.js'
import {MysqlAdapter, sessionLimits} from '../../src/adapters/mysql.js'
import {RedisAdapter} from '../../src/adapters/redis.js'
import {Services} from '../../src/adapters/services.js'
import {DEFAULTS} from '../../src/config/defaults.js'
import {writeAudit} from '../../src/core/audit.js'
import {ConnectionError, LockHeldError} from '../../src/core/errors.js'
import {acquireLock} from '../../src/core/lock.js'
import {AMQP_ROOT, createTestDatabase, createTestRedis, makeAll, MYSQL_ROOT, REDIS_URL, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

/** A server on loopback that accepts connections and never says a word: the worst kind of unreachable. */
function silentServer(): Promise<{server: Server; port: number}> {
  return new Promise((resolve) => {
    const server = createServer(() => {})
    server.listen(0, '127.0.0.1', () => resolve({server, port: (server.address() as {port: number}).port}))
  })
}

let db: TestDatabase
let redis: TestRedis
let silent: {server: Server; port: number}

beforeAll(async () => {
  db = await createTestDatabase()
  redis = await createTestRedis()
  silent = await silentServer()
})

afterAll(async () => {
  await db?.drop()
  await redis?.cleanup()
  silent?.server.close()
})

describe('adapters', () => {
  it('MySQL: connects, runs queries and transactions, rolls back on error', async () => {
    const sql = await MysqlAdapter.connect(db.url, 5000)
    try {
      expect(await sql.version()).toMatch(/^\d+\.\d+/)
      await sql.execute('CREATE TABLE t (id INT PRIMARY KEY)')
      await sql.transaction(async (tx) => {
        await tx.execute('INSERT INTO t VALUES (?), (?)', [1, 2])
      })
      await expect(
        sql.transaction(async (tx) => {
          await tx.execute('INSERT INTO t VALUES (?)', [3])
          throw new Error('boom')
        }),
      ).rejects.toThrow('boom')
      const rows = await sql.query<{n: number}>('SELECT COUNT(*) AS n FROM t')
      expect(Number(rows[0].n)).toBe(2)
    } finally {
      await sql.close()
    }
  })

  it('MySQL: every session gets a wait_timeout from the statement timeout, far below the server default', async () => {
    const session = async (sql: MysqlAdapter) => {
      const rows = await sql.query<{w: string}>('SELECT @@SESSION.wait_timeout AS w')
      const inTx = await sql.transaction((tx) => tx.query<{w: string}>('SELECT @@SESSION.wait_timeout AS w'))
      return [Number(rows[0].w), Number(inTx[0].w)]
    }
    const sql = await MysqlAdapter.connect(db.url, 5000)
    // The drain's statement timeout reaches the adapter through Services, which opens the pool with it.
    const services = new Services({...DEFAULTS, mysql: {url: db.url}})
    services.mysqlStatementTimeoutMs = 30_000
    try {
      expect(sessionLimits(300_000).waitTimeoutS).toBe(660)
      expect(await session(sql)).toEqual([660, 660])
      const drain = await services.mysql()
      expect(drain.statementTimeoutMs).toBe(30_000)
      expect(await session(drain)).toEqual([120, 120])
    } finally {
      await sql.close()
      await services.close()
    }
  })

  it('MySQL: after the server kills an idle pooled session, the next statement runs on a new one', async () => {
    const sql = await MysqlAdapter.connect(db.url, 5000)
    const admin = await mysql.createConnection(MYSQL_ROOT)
    const sessionOf = async () => (await sql.query<{id: string; w: string}>('SELECT CONNECTION_ID() AS id, @@SESSION.wait_timeout AS w'))[0]
    const killIdle = async (id: string) => {
      await admin.query(`KILL CONNECTION ${Number(id)}`)
      // The server has closed it (what wait_timeout does to a silent session) before msgops uses the pool again.
      for (let i = 0; i < 100; i++) {
        const [rows] = await admin.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [id])
        if ((rows as unknown[]).length === 0) return
        await new Promise((r) => setTimeout(r, 20))
      }
      throw new Error(`session ${id} still open after KILL`)
    }
    try {
      const first = await sessionOf()
      await killIdle(first.id)
      const second = await sessionOf()
      expect(second.id).not.toBe(first.id)
      expect(Number(second.w)).toBe(660)
      // A transaction, too, starts on a live session after its idle one was killed.
      await killIdle(second.id)
      const inTx = await sql.transaction((tx) => tx.query<{id: string}>('SELECT CONNECTION_ID() AS id'))
      expect([first.id, second.id]).not.toContain(inTx[0].id)
    } finally {
      await admin.end()
      await sql.close()
    }
  })

  it('MySQL: a refused connection is a ConnectionError with the password masked', async () => {
    const error = await MysqlAdapter.connect('mysql://root:s3cret@127.0.0.1:1/x', 3000).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error.message).toContain('mysql://root:****@127.0.0.1:1/x')
    expect(error.message).not.toContain('s3cret')
  })

  it('MySQL, RabbitMQ and Redis: a silent server fails within the timeout', async () => {
    const started = Date.now()
    const results = await Promise.all([
      MysqlAdapter.connect(`mysql://root:pw@127.0.0.1:${silent.port}/x`, 800).catch((e) => e),
      AmqpAdapter.connect(`amqp://guest:pw@127.0.0.1:${silent.port}`, 800).catch((e) => e),
      RedisAdapter.connect(`redis://:pw@127.0.0.1:${silent.port}`, 800).catch((e) => e),
    ])
    for (const error of results) {
      expect(error).toBeInstanceOf(ConnectionError)
      expect(error.message).toMatch(/no answer within/)
      expect(error.message).not.toContain(':pw@')
    }
    // Bounded by the timeout, not by a retry loop: generous slack for a loaded machine.
    expect(Date.now() - started).toBeLessThan(8000)
  })

  it('RabbitMQ: connects and reports the version; wrong credentials are refused clearly', async () => {
    const amqp = await AmqpAdapter.connect(AMQP_ROOT, 5000)
    expect(amqp.version).toMatch(/^\d+\.\d+/)
    await amqp.close()
    const url = new URL(AMQP_ROOT)
    url.password = 'wrong-secret'
    const error = await AmqpAdapter.connect(url.toString(), 5000).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error.message).toMatch(/access refused/)
    expect(error.message).not.toContain('wrong-secret')
  })

  it('Redis: connects, reports the version; a refused port fails at once', async () => {
    const client = await RedisAdapter.connect(REDIS_URL, 5000)
    expect(await client.version()).toMatch(/^\d+\.\d+/)
    await client.close()
    const error = await RedisAdapter.connect('redis://:s3cret@127.0.0.1:1', 3000).catch((e) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error.message).toMatch(/connection refused/)
    expect(error.message).not.toContain('s3cret')
  })
})

describe('Redis lock', () => {
  it('gives the lock to one holder, names the holder to the second, and releases by token only', async () => {
    const store = await RedisAdapter.connect(REDIS_URL, 5000)
    try {
      const key = `${redis.prefix}lock:test`
      const first = await acquireLock(store, key, {command: 'outbox drain', ttlMs: 2000})
      const error = await acquireLock(store, key, {command: 'outbox drain'}).catch((e) => e)
      expect(error).toBeInstanceOf(LockHeldError)
      expect(error.message).toMatch(new RegExp(`held by .+/${process.pid} since \\d{4}-\\d\\d-\\d\\dT`))
      expect(error.message).toContain('(outbox drain)')
      // Someone else's value under the key is never deleted by our release.
      await redis.client.set(key, 'somebody-else')
      await first.release()
      expect(await redis.client.get(key)).toBe('somebody-else')
      await redis.client.del(key)
    } finally {
      await store.close()
    }
  })

  it('renews the lock while the work runs, so it outlives its TTL', async () => {
    const store = await RedisAdapter.connect(REDIS_URL, 5000)
    try {
      const key = `${redis.prefix}lock:renew`
      const held = await acquireLock(store, key, {command: 'x', ttlMs: 600})
      await new Promise((r) => setTimeout(r, 1500))
      expect(await redis.client.get(key)).not.toBeNull()
      expect(held.lost.aborted).toBe(false)
      await held.release()
      expect(await redis.client.get(key)).toBeNull()
    } finally {
      await store.close()
    }
  })

  it('signals loss when the lock is taken away, and waits for a lock with waitMs', async () => {
    const store = await RedisAdapter.connect(REDIS_URL, 5000)
    try {
      const key = `${redis.prefix}lock:lost`
      const held = await acquireLock(store, key, {command: 'x', ttlMs: 600})
      await redis.client.set(key, 'thief')
      await new Promise((r) => setTimeout(r, 600))
      expect(held.lost.aborted).toBe(true)
      await held.release()
      await redis.client.set(key, 'brief', 'PX', 300)
      const waited = await acquireLock(store, key, {command: 'y', waitMs: 3000})
      expect(JSON.parse((await redis.client.get(key))!).command).toBe('y')
      await waited.release()
    } finally {
      await store.close()
    }
  })
})

describe('audit', () => {
  it('creates the audit table when missing and records masked arguments', async () => {
    const sql = await MysqlAdapter.connect(db.url, 5000)
    try {
      await writeAudit(sql, 'msgops_audit_x', {
        command: 'outbox drain',
        argv: ['--mysql-url', 'mysql://root:s3cret@127.0.0.1/x', '--limit', '5'],
        outcome: {published: 3},
        exitCode: 0,
      })
      const rows = await sql.query<{command: string; arguments: string; outcome: string; os_user: string}>('SELECT * FROM msgops_audit_x')
      expect(rows).toHaveLength(1)
      expect(rows[0].command).toBe('outbox drain')
      expect(JSON.stringify(rows[0].arguments)).toContain('mysql://root:****@127.0.0.1/x')
      expect(JSON.stringify(rows[0].arguments)).not.toContain('s3cret')
      const outcome = rows[0].outcome as unknown
      expect(typeof outcome === 'string' ? JSON.parse(outcome) : outcome).toEqual({published: 3})
      expect(rows[0].os_user).not.toBe('')
    } finally {
      await sql.close()
    }
  })
})

describe('test helpers', () => {
  it('makeAll removes what it made when another resource cannot be made', async () => {
    const making = createTestDatabase('msgops_mkall')
    const refused = Promise.reject(new Error('the management API is down'))
    await expect(makeAll([making, refused as Promise<TestVhost>] as const)).rejects.toThrow('the management API is down')
    const conn = await mysql.createConnection(MYSQL_ROOT)
    try {
      const [rows] = await conn.query('SHOW DATABASES LIKE ?', [(await making).name])
      expect(rows).toEqual([])
    } finally {
      await conn.end()
    }
  })
})
