import amqp, {type Channel, type ChannelModel} from 'amqplib'
import mysql from 'mysql2/promise'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../../helpers/env.js'
import {seededRandom} from '../../../src/core/demo/faults.js'

/** One test file's own database (reference schema), vhost (orders.x → orders.q), Redis prefix, and clients to look at them. */
export interface World {
  db: TestDatabase
  vhost: TestVhost
  redis: TestRedis
  env: Record<string, string>
  conn: mysql.Connection
  broker: ChannelModel
  channel: Channel
  /** A fresh channel (e.g. for a consumer that must not share the prefetch of another). */
  newChannel(): Promise<Channel>
  cleanup(): Promise<void>
}

export async function createWorld(prefix: string): Promise<World> {
  const db = await createTestDatabase(prefix)
  const vhost = await createTestVhost(prefix)
  const redis = await createTestRedis(prefix)
  const env = cliEnv({db, vhost, redis})
  const init = await runCli(['schema', 'init'], {env})
  if (init.code !== 0) throw new Error(`schema init failed: ${init.stderr}`)
  const conn = await mysql.createConnection(db.url)
  const broker = await amqp.connect(vhost.amqpUrl)
  const channel = await broker.createChannel()
  await channel.assertExchange('orders.x', 'topic', {durable: true})
  await channel.assertQueue('orders.q', {durable: true})
  await channel.bindQueue('orders.q', 'orders.x', 'order.#')
  const channels: Channel[] = [channel]
  return {
    db, vhost, redis, env, conn, broker, channel,
    async newChannel() {
      const c = await broker.createChannel()
      channels.push(c)
      return c
    },
    async cleanup() {
      await broker.close().catch(() => {})
      await conn.end().catch(() => {})
      await db.drop().catch(() => {})
      await vhost.drop().catch(() => {})
      await redis.cleanup().catch(() => {})
    },
  }
}

/** Seeded pseudo-random numbers (the demo's generator), so that a failing run can be replayed with the seed it printed. */
export const random = seededRandom

/** One line per figure, collected into bench/RESULTS.md. */
export function figure(name: string, values: Record<string, unknown>): void {
  process.stdout.write(`[reliability] ${name} ${JSON.stringify(values)}\n`)
}
