import {randomBytes} from 'node:crypto'
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {Redis} from 'ioredis'
import mysql from 'mysql2/promise'

/** The machine's services; tests create their own database, vhost and key prefix inside them. */
export const MYSQL_ROOT = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
export const AMQP_ROOT = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const MANAGEMENT_URL = process.env.TEST_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672'

export const RUN_JS = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
}

export interface TestDatabase {
  name: string
  url: string
  drop(): Promise<void>
}

/** A database of its own for one test file, dropped afterwards. */
export async function createTestDatabase(prefix = 'msgops_t'): Promise<TestDatabase> {
  const name = uniqueName(prefix)
  const conn = await mysql.createConnection(MYSQL_ROOT)
  await conn.query(`CREATE DATABASE \`${name}\``)
  await conn.end()
  const url = new URL(MYSQL_ROOT)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = await mysql.createConnection(MYSQL_ROOT)
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
      await c.end()
    },
  }
}

async function management(method: string, path: string, body?: unknown): Promise<Response> {
  const url = new URL(MANAGEMENT_URL)
  const auth = Buffer.from(`${url.username}:${url.password}`).toString('base64')
  url.username = url.password = ''
  return fetch(`${url.toString().replace(/\/$/, '')}/api${path}`, {
    method,
    headers: {authorization: `Basic ${auth}`, 'content-type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  })
}

export interface TestVhost {
  name: string
  amqpUrl: string
  managementUrl: string
  drop(): Promise<void>
}

/** A RabbitMQ virtual host of its own (through the management API), deleted afterwards with all it holds. */
export async function createTestVhost(prefix = 'msgops_t'): Promise<TestVhost> {
  const name = uniqueName(prefix)
  const user = new URL(AMQP_ROOT).username || 'guest'
  let res = await management('PUT', `/vhosts/${encodeURIComponent(name)}`, {})
  if (!res.ok) throw new Error(`cannot create vhost ${name}: HTTP ${res.status}`)
  res = await management('PUT', `/permissions/${encodeURIComponent(name)}/${encodeURIComponent(user)}`, {configure: '.*', write: '.*', read: '.*'})
  if (!res.ok) throw new Error(`cannot grant vhost ${name}: HTTP ${res.status}`)
  const amqpUrl = `${AMQP_ROOT.replace(/\/$/, '')}/${encodeURIComponent(name)}`
  return {
    name,
    amqpUrl,
    managementUrl: MANAGEMENT_URL,
    async drop() {
      await management('DELETE', `/vhosts/${encodeURIComponent(name)}`)
    },
  }
}

export interface TestRedis {
  prefix: string
  client: Redis
  cleanup(): Promise<void>
}

/** Deletes every key under a prefix (SCAN + UNLINK in pages: a bench may leave millions). */
export async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10_000)
    if (keys.length > 0) await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
}

/** A key prefix of its own; every key under it is deleted afterwards. */
export async function createTestRedis(prefix = 'msgops_t'): Promise<TestRedis> {
  const keyPrefix = `${uniqueName(prefix)}:`
  const client = new Redis(REDIS_URL, {lazyConnect: true, maxRetriesPerRequest: 1})
  await client.connect()
  return {
    prefix: keyPrefix,
    client,
    async cleanup() {
      await dropKeys(client, keyPrefix)
      client.disconnect()
    },
  }
}

type TestResource = TestDatabase | TestVhost | TestRedis

/** Test resources made side by side; when one cannot be made, the others are removed again before the error is thrown. */
export async function makeAll<T extends readonly TestResource[]>(making: {[K in keyof T]: Promise<T[K]>}): Promise<T> {
  const settled = await Promise.allSettled(making)
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<TestResource>).value) as unknown as T
  await Promise.all(settled.map((s) => (s.status === 'fulfilled' ? ('cleanup' in s.value ? s.value.cleanup() : s.value.drop()).catch(() => {}) : undefined)))
  throw failed.reason
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

/** The environment msgops runs in under test: this process's, without the developer's MSGOPS_* or config file, plus extra. */
export function cliProcessEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MSGOPS_')) env[k] = v
  return Object.assign(env, {NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent-msgops-test'}, extra)
}

/** Runs the built CLI as a user would, with its own environment; never inherits the developer's MSGOPS_*. */
export function runCli(args: string[], options: {env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number} = {}): Promise<CliResult> {
  const env = cliProcessEnv(options.env)
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_JS, ...args], {env, cwd: options.cwd ?? '/tmp', stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr, ms: Date.now() - started})
    })
    child.stdin.end(options.input ?? '')
  })
}

/** Environment pointing the CLI at a test's own database, vhost and key prefix. */
export function cliEnv(parts: {db?: TestDatabase; vhost?: TestVhost; redis?: TestRedis}): Record<string, string> {
  const env: Record<string, string> = {}
  if (parts.db) env.MSGOPS_MYSQL_URL = parts.db.url
  if (parts.vhost) {
    env.MSGOPS_AMQP_URL = parts.vhost.amqpUrl
    env.MSGOPS_MANAGEMENT_URL = parts.vhost.managementUrl
  }
  if (parts.redis) env.MSGOPS_REDIS_KEY_PREFIX = parts.redis.prefix
  return env
}

/** The smallest order topology (topic exchange, queue with its dead-letter queue) that `top` and its bench declare. */
export const ORDERS_TOPOLOGY = `exchanges:
  - {name: orders.x, type: topic}
  - {name: orders.dlx, type: fanout}
queues:
  - {name: orders.q, arguments: {deadLetterExchange: orders.dlx}}
  - {name: orders.dlq}
bindings:
  - {source: orders.x, destination: orders.q, routingKey: "order.#"}
  - {source: orders.dlx, destination: orders.dlq, routingKey: ""}
`
