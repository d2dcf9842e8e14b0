import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import amqp, {type Channel, type ChannelModel} from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, expect} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, runCli, type TestDatabase, type TestRedis, type TestVhost} from './env.js'

/** What an outbox test file shares: its vhost (orders.x → orders.q), Redis prefix, a channel, a folder, its databases. */
export interface OutboxWorld {
  /** For configuration files; it exists from the start, so variants defined when the file loads can name paths in it. */
  readonly tempDir: string
  readonly vhost: TestVhost
  readonly redis: TestRedis
  readonly channel: Channel
  /** A database of its own (one per variant of the outbox mapping), a plain connection to it, the CLI's environment for it. */
  database(): Promise<{db: TestDatabase; conn: mysql.Connection; env: Record<string, string>}>
}

/**
 * Registers the file's beforeAll and afterAll: the vhost gets the topic exchange orders.x bound to orders.q (order.#)
 * plus whatever `declare` adds; everything created is removed at the end. Fields are set once beforeAll has run.
 */
export function useOutboxWorld(tempPrefix: string, declare?: (channel: Channel) => Promise<void>): OutboxWorld {
  const state: {tempDir: string; vhost?: TestVhost; redis?: TestRedis; broker?: ChannelModel; channel?: Channel} = {tempDir: mkdtempSync(join(tmpdir(), tempPrefix))}
  const dbs: TestDatabase[] = []
  const conns: mysql.Connection[] = []

  beforeAll(async () => {
    state.vhost = await createTestVhost()
    state.redis = await createTestRedis()
    state.broker = await amqp.connect(state.vhost.amqpUrl)
    const channel = (state.channel = await state.broker.createChannel())
    await channel.assertExchange('orders.x', 'topic', {durable: true})
    await channel.assertQueue('orders.q', {durable: true})
    await channel.bindQueue('orders.q', 'orders.x', 'order.#')
    await declare?.(channel)
  })

  afterAll(async () => {
    await state.broker?.close().catch(() => {})
    for (const c of conns) await c.end().catch(() => {})
    for (const d of dbs) await d.drop()
    await state.vhost?.drop()
    await state.redis?.cleanup()
    rmSync(state.tempDir, {recursive: true, force: true})
  })

  return {
    tempDir: state.tempDir,
    get vhost() {
      return state.vhost!
    },
    get redis() {
      return state.redis!
    },
    get channel() {
      return state.channel!
    },
    async database() {
      const db = await createTestDatabase()
      dbs.push(db)
      const conn = await mysql.createConnection(db.url)
      conns.push(conn)
      return {db, conn, env: cliEnv({db, vhost: state.vhost, redis: state.redis})}
    },
  }
}

/** The reference schema's setup: `msgops schema init` creates its tables. */
export async function initReferenceSchema(_conn: mysql.Connection, env: Record<string, string>): Promise<void> {
  const init = await runCli(['schema', 'init'], {env})
  expect(init.code, init.stderr).toBe(0)
}
