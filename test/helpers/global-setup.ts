/**
 * vitest globalSetup of the integration and reliability tests: before any file runs, MySQL, RabbitMQ (AMQP and the
 * management API, through which every test makes its own vhost) and Redis must answer. A missing management plugin
 * on a local broker is enabled here; anything else that is missing stops the run with one line saying what to do,
 * instead of every file failing in its beforeAll with a stack trace.
 */
import {spawnSync} from 'node:child_process'

import amqp from 'amqplib'
import {Redis} from 'ioredis'
import mysql from 'mysql2/promise'

import {AMQP_ROOT, MANAGEMENT_URL, MYSQL_ROOT, REDIS_URL} from './env.js'

/** The plugins a local broker gets: the management API the tests need, and the shovel the benches use (both cheap). */
export const PLUGINS = ['rabbitmq_management', 'rabbitmq_shovel', 'rabbitmq_shovel_management']
const ENABLE = `rabbitmq-plugins enable ${PLUGINS.join(' ')}`
const CHECK_TIMEOUT_MS = 5000

export type ManagementState = 'answers' | 'down' | 'denied'

export interface ManagementFacts {
  api: ManagementState
  /** The AMQP URL and the management URL both name this machine (127.0.0.1, localhost, ::1). */
  local: boolean
  /** rabbitmq-plugins is on PATH. */
  pluginsCommand: boolean
  /** TEST_AUTO_ENABLE_PLUGINS=0 forbids enabling anything. */
  autoEnable: boolean
}

export type ManagementAction = 'proceed' | 'enable' | 'refuse' | 'refuse-credentials'

/**
 * What to do about the management API before the tests run.
 *
 * | API answers    | local broker | rabbitmq-plugins on PATH | auto-enable allowed | action                                                  |
 * | -------------- | ------------ | ------------------------ | ------------------- | ------------------------------------------------------- |
 * | yes            | any          | any                      | any                 | proceed                                                 |
 * | 401/403        | any          | any                      | any                 | refuse-credentials (a plugin would not help)            |
 * | no             | yes          | yes                      | yes                 | enable, say so, wait for the API (bounded), else refuse |
 * | no             | no           | any                      | any                 | refuse: name the command to run on the broker's host    |
 * | no             | yes          | no                       | any                 | refuse                                                  |
 * | no             | yes          | yes                      | no                  | refuse                                                  |
 */
export function managementAction(facts: ManagementFacts): ManagementAction {
  if (facts.api === 'answers') return 'proceed'
  if (facts.api === 'denied') return 'refuse-credentials'
  return facts.local && facts.pluginsCommand && facts.autoEnable ? 'enable' : 'refuse'
}

export function isLocalHost(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
  return host === '127.0.0.1' || host === 'localhost' || host === '::1'
}

function where(url: string): string {
  const u = new URL(url)
  return `${u.hostname}:${u.port || {'mysql:': 3306, 'amqp:': 5672, 'redis:': 6379, 'http:': 80, 'https:': 443}[u.protocol] || ''}`
}

function reason(error: unknown): string {
  const e = error as {code?: string; message?: string; errors?: {code?: string}[]}
  return e.code ?? e.errors?.find((x) => x.code)?.code ?? (e.message ?? String(error)).split('\n')[0]
}

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(Object.assign(new Error('timed out'), {code: `no answer in ${ms / 1000}s`})), ms)))
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** One problem, one line: what does not answer, and the command that makes it answer. */
async function checkService(name: string, url: string, envName: string, start: string, probe: () => Promise<void>): Promise<string | undefined> {
  try {
    await within(CHECK_TIMEOUT_MS, probe())
    return undefined
  } catch (error) {
    const how = isLocalHost(url) ? `start it (${start}, or docker compose up -d)` : `start it on ${new URL(url).hostname}`
    return `${name} at ${where(url)} does not answer (${reason(error)}): ${how}, or point ${envName} at one that runs`
  }
}

export async function managementApi(url = MANAGEMENT_URL): Promise<{state: ManagementState; detail: string}> {
  const u = new URL(url)
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')
  u.username = u.password = ''
  try {
    const res = await fetch(`${u.toString().replace(/\/$/, '')}/api/overview`, {headers: {authorization: `Basic ${auth}`}, signal: AbortSignal.timeout(CHECK_TIMEOUT_MS)})
    await res.body?.cancel()
    if (res.ok) return {state: 'answers', detail: `HTTP ${res.status}`}
    return {state: res.status === 401 || res.status === 403 ? 'denied' : 'down', detail: `HTTP ${res.status}`}
  } catch (error) {
    return {state: 'down', detail: reason((error as {cause?: unknown}).cause ?? error)}
  }
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], {stdio: 'ignore'}).status === 0
}

/** Undefined when every service answers (after enabling the management plugin if it may); else what to tell, one line per problem. */
export async function checkServices(log: (line: string) => void): Promise<string | undefined> {
  const down = (
    await Promise.all([
      checkService('MySQL', MYSQL_ROOT, 'TEST_MYSQL_URL', 'sudo service mariadb start', async () => {
        const c = await mysql.createConnection({uri: MYSQL_ROOT, connectTimeout: CHECK_TIMEOUT_MS})
        await c.query('SELECT 1')
        await c.end()
      }),
      checkService('RabbitMQ (AMQP)', AMQP_ROOT, 'TEST_AMQP_URL', 'sudo service rabbitmq-server start', async () => {
        const c = await amqp.connect(AMQP_ROOT, {timeout: CHECK_TIMEOUT_MS})
        await c.close()
      }),
      checkService('Redis', REDIS_URL, 'TEST_REDIS_URL', 'redis-server --daemonize yes', async () => {
        const r = new Redis(REDIS_URL, {lazyConnect: true, connectTimeout: CHECK_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null})
        let last: unknown
        r.on('error', (error) => (last = error))
        try {
          await r.connect().catch((error: unknown) => {
            // ioredis rejects with "Connection is closed."; the socket's own error says why.
            throw last ?? error
          })
          await r.ping()
        } finally {
          r.disconnect()
        }
      }),
    ])
  ).filter((line): line is string => line !== undefined)
  if (down.length > 0) return down.join('\n')

  const api = await managementApi()
  const local = isLocalHost(AMQP_ROOT) && isLocalHost(MANAGEMENT_URL)
  const action = managementAction({api: api.state, local, pluginsCommand: hasCommand('rabbitmq-plugins'), autoEnable: process.env.TEST_AUTO_ENABLE_PLUGINS !== '0'})
  const problem = `the RabbitMQ management API at ${where(MANAGEMENT_URL)} does not answer (${api.detail})`
  if (action === 'proceed') return undefined
  if (action === 'refuse-credentials') return `the RabbitMQ management API at ${where(MANAGEMENT_URL)} refuses the user of TEST_MANAGEMENT_URL (${api.detail}): check its user and password (the tests need one with the administrator tag, e.g. guest on a local broker)`
  if (action === 'refuse') return `${problem}: run "${ENABLE}"${local ? '' : ` on ${new URL(MANAGEMENT_URL).hostname}`}, then npm test again`

  const enabled = spawnSync('rabbitmq-plugins', ['enable', ...PLUGINS], {encoding: 'utf8', timeout: 120_000})
  if (enabled.status !== 0) {
    const why = `${enabled.stderr ?? ''}${enabled.stdout ?? ''}`.trim().split('\n').at(-1) || enabled.error?.message || `exit ${enabled.status}`
    return `${problem} and "${ENABLE}" failed (${why}): run it as a user that may (e.g. with sudo), then npm test again`
  }
  log(`npm test: the RabbitMQ management API did not answer; enabled it on the local broker (${ENABLE})`)
  const waitS = Number(process.env.TEST_MANAGEMENT_WAIT_S ?? 60)
  for (const until = Date.now() + waitS * 1000; Date.now() < until; ) {
    if ((await managementApi()).state === 'answers') return undefined
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  return `${problem} ${waitS}s after "${ENABLE}": check the broker (rabbitmq-diagnostics status), then npm test again`
}

/** Stops the whole run at once: one line per problem, no stack trace, before any test file is loaded. */
export default async function setup(): Promise<void> {
  const problem = await checkServices((line) => process.stderr.write(`${line}\n`))
  if (problem === undefined) return
  process.stderr.write(`${problem.split('\n').map((line) => `npm test cannot run: ${line}`).join('\n')}\n`)
  process.exit(2)
}
