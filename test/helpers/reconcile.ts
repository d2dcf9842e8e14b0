import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import amqp from 'amqplib'
import mysql from 'mysql2/promise'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, runCli, type TestDatabase, type TestRedis, type TestVhost} from './env.js'

/** What a reconcile test file shares: a database, a Redis prefix, a vhost where drained rows can go, a folder. */
export interface ReconcileWorld {
  db: TestDatabase
  redis: TestRedis
  vhost: TestVhost
  conn: mysql.Connection
  dir: string
  env: Record<string, string>
  cleanup(): Promise<void>
}

/** The exchange (bound to a queue on the routing key) that `--fix` drains into; publishes are mandatory. */
export async function createReconcileWorld(prefix: string, route: {exchange: string; type: 'topic' | 'direct'; queue: string; routingKey: string}): Promise<ReconcileWorld> {
  // What was made before a failure (RabbitMQ's management API down, say) is removed again, not left behind.
  const made: (() => Promise<unknown>)[] = []
  const make = async <T>(create: () => Promise<T>, remove: (made: T) => Promise<unknown>): Promise<T> => {
    const result = await create()
    made.unshift(() => remove(result))
    return result
  }
  let db: TestDatabase, redis: TestRedis, vhost: TestVhost, conn: mysql.Connection
  try {
    db = await make(() => createTestDatabase(prefix), (d) => d.drop())
    redis = await make(() => createTestRedis(prefix), (r) => r.cleanup())
    vhost = await make(() => createTestVhost(prefix), (v) => v.drop())
    const broker = await amqp.connect(vhost.amqpUrl)
    const channel = await broker.createChannel()
    await channel.assertExchange(route.exchange, route.type, {durable: true})
    await channel.assertQueue(route.queue, {durable: true})
    await channel.bindQueue(route.queue, route.exchange, route.routingKey)
    await broker.close()
    conn = await mysql.createConnection(db.url)
  } catch (error) {
    for (const undo of made) await undo().catch(() => {})
    throw error
  }
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`))
  return {
    db, redis, vhost, conn, dir,
    env: cliEnv({db, redis, vhost}),
    async cleanup() {
      await conn.end()
      await db.drop()
      await redis.cleanup()
      await vhost.drop()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** `msgops reconcile --json` with a configuration file; the output parsed, or an error showing what came instead. */
export async function reconcileJson(env: Record<string, string>, configFile: string, args: string[]) {
  const result = await runCli(['reconcile', '--json', '--config', configFile, ...args], {env})
  let json: any
  try {
    json = JSON.parse(result.stdout)
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return {...result, json}
}

/** The sample ids of a check, sorted. */
export function sampleIds(json: any, check: string): string[] {
  return json.checks[check].samples.map((s: {id: string}) => s.id).sort()
}
