import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type mysql from 'mysql2/promise'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'

const ROWS = 5000
const world = useOutboxWorld('msgops-outbox-cc-')
const {tempDir} = world

/** Two mappings of the same outbox: the reference schema, and a team's table with integer statuses and other names. */
const variants = [
  {
    name: 'reference schema',
    args: [] as string[],
    setup: initReferenceSchema,
    async fill(conn: mysql.Connection, prefix: string) {
      const rows = Array.from({length: ROWS}, (_, i) => [`${prefix}-${String(i).padStart(5, '0')}`, 'orders.x', 'order.created', JSON.stringify({n: i})])
      for (let i = 0; i < rows.length; i += 1000)
        await conn.query('INSERT INTO outbox (id, exchange, routing_key, payload, created_at) VALUES ?', [rows.slice(i, i + 1000).map((r) => [...r, new Date(Date.now() - 3_600_000)])])
    },
    async unsent(conn: mysql.Connection): Promise<number> {
      const [rows] = await conn.query("SELECT COUNT(*) AS n FROM outbox WHERE status <> 'sent'")
      return Number((rows as {n: number}[])[0].n)
    },
  },
  {
    name: 'integer-status mapping',
    args: ['--config', join(tempDir, 'int.yaml')],
    async setup(conn: mysql.Connection) {
      writeFileSync(join(tempDir, 'int.yaml'), `outbox:
  table: order_mq_tab
  columns: {id: messageId, payload: messageContent, status: messageStatus, createdAt: addTime}
  statuses: {pending: 1, sent: 2, deadLetter: 3}
  exchange: orders.x
  routingKey: order.created
`)
      await conn.query(`CREATE TABLE order_mq_tab (messageId VARCHAR(64) NOT NULL PRIMARY KEY, messageContent JSON NOT NULL,
        messageStatus TINYINT NOT NULL, addTime DATETIME(3) NOT NULL, KEY idx_status_time (messageStatus, addTime))`)
    },
    async fill(conn: mysql.Connection, prefix: string) {
      const rows = Array.from({length: ROWS}, (_, i) => [`${prefix}-${String(i).padStart(5, '0')}`, JSON.stringify({n: i}), 1, new Date(Date.now() - 3_600_000)])
      for (let i = 0; i < rows.length; i += 1000) await conn.query('INSERT INTO order_mq_tab (messageId, messageContent, messageStatus, addTime) VALUES ?', [rows.slice(i, i + 1000)])
    },
    async unsent(conn: mysql.Connection): Promise<number> {
      const [rows] = await conn.query('SELECT COUNT(*) AS n FROM order_mq_tab WHERE messageStatus <> 2')
      return Number((rows as {n: number}[])[0].n)
    },
  },
]

/** Every message id in the queue with how many times it arrived; the queue is emptied. */
async function countIds(expected: number): Promise<Map<string, number>> {
  const {channel} = world
  const counts = new Map<string, number>()
  await channel.prefetch(1000)
  let received = 0
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received} of ${expected} messages arrived`)), 30_000)
    void channel.consume('orders.q', (m) => {
      if (!m) return
      const id = String(m.properties.messageId)
      counts.set(id, (counts.get(id) ?? 0) + 1)
      if (++received === expected) {
        clearTimeout(timer)
        resolve()
      }
    }, {noAck: true, consumerTag: 'count'})
  })
  await channel.cancel('count')
  const {messageCount} = await channel.checkQueue('orders.q')
  expect(messageCount).toBe(0)
  return counts
}

describe.each(variants)('two drains at once on the $name', (variant) => {
  let conn: mysql.Connection
  let env: Record<string, string>

  beforeAll(async () => {
    const own = await world.database()
    conn = own.conn
    env = own.env
    await variant.setup(conn, env)
  })

  it(`publish each of ${ROWS} rows exactly once without the lock (SKIP LOCKED alone)`, async () => {
    await variant.fill(conn, 'nl')
    const args = ['outbox', 'drain', '--yes', '--json', '--no-lock', '--batch', '100', ...variant.args]
    const [a, b] = await Promise.all([runCli(args, {env}), runCli(args, {env})])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    const published = [a, b].map((r) => (JSON.parse(r.stdout) as {published: number}).published)
    expect(published[0] + published[1]).toBe(ROWS)
    const counts = await countIds(ROWS)
    expect(counts.size).toBe(ROWS)
    expect([...counts.values()].every((n) => n === 1)).toBe(true)
    expect(await variant.unsent(conn)).toBe(0)
  })

  it('with the lock, the second drain exits 2 with the lock line and the first publishes every row once', async () => {
    await variant.fill(conn, 'lk')
    // --rate keeps the first drain busy long enough for the second to meet its lock.
    const args = ['outbox', 'drain', '--yes', '--json', '--rate', '1000', ...variant.args]
    const [a, b] = await Promise.all([runCli(args, {env}), runCli(args, {env})])
    const [winner, loser] = a.code === 0 ? [a, b] : [b, a]
    expect(winner.code, winner.stderr).toBe(0)
    expect(loser.code).toBe(2)
    expect(loser.stderr).toMatch(/^Error: lock \S+lock:outbox-drain is held by \S+\/\d+ since /)
    expect((JSON.parse(winner.stdout) as {published: number}).published).toBe(ROWS)
    const counts = await countIds(ROWS)
    expect(counts.size).toBe(ROWS)
    expect([...counts.values()].every((n) => n === 1)).toBe(true)
  })
})
