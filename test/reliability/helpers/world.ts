import {spawn, type ChildProcess} from 'node:child_process'
import type {Channel, ConsumeMessage} from 'amqplib'
import type mysql from 'mysql2/promise'

import {type CliResult, RUN_JS} from '../../helpers/env.js'

export interface Spawned {
  child: ChildProcess
  result: Promise<CliResult>
  /** SIGKILL: no finally block, no rollback by the process, no lock release. */
  kill9(): void
}

/** Like runCli, but hands back the child so that a test can kill -9 it at a moment of its choosing. */
export function spawnCli(args: string[], env: Record<string, string>, timeoutMs = 120_000): Spawned {
  const full: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MSGOPS_')) full[k] = v
  Object.assign(full, {NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent-msgops-test'}, env)
  const started = Date.now()
  const child = spawn(process.execPath, [RUN_JS, ...args], {env: full, cwd: '/tmp', stdio: ['pipe', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  child.stdin!.end('')
  const result = new Promise<CliResult>((resolve, reject) => {
    // Bounded: a command that hangs is killed and shows up as code null.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr, ms: Date.now() - started})
    })
  })
  return {child, result, kill9: () => void child.kill('SIGKILL')}
}

/** The lines a failed command wrote to stderr, ignoring blank ones. */
export function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((l) => l.trim() !== '')
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until check() returns true, or throws after timeoutMs: every wait in these tests ends by itself. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** Inserts n pending outbox rows (reference schema), an hour old so that --older-than lets them through. */
export async function seedOutbox(conn: mysql.Connection, n: number, prefix: string, exchange: string, routingKey: string): Promise<string[]> {
  const ids = Array.from({length: n}, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`)
  const created = new Date(Date.now() - 3_600_000)
  for (let i = 0; i < ids.length; i += 2000) {
    const chunk = ids.slice(i, i + 2000).map((id, j) => [id, 'order.created', exchange, routingKey, JSON.stringify({orderId: id, n: i + j}), created])
    await conn.query('INSERT INTO outbox (id, event_type, exchange, routing_key, payload, created_at) VALUES ?', [chunk])
  }
  return ids
}

export async function outboxByStatus(conn: mysql.Connection): Promise<Map<string, string[]>> {
  const [rows] = await conn.query('SELECT id, status FROM outbox')
  const map = new Map<string, string[]>()
  for (const r of rows as {id: string; status: string}[]) {
    if (!map.has(r.status)) map.set(r.status, [])
    map.get(r.status)!.push(r.id)
  }
  return map
}

/**
 * Records every message id delivered from a queue (auto-ack), with how many times each came.
 * Running during the test, it lets us check "sent in MySQL ⇒ present in the queue" after each crash.
 */
export class QueueRecorder {
  readonly counts = new Map<string, number>()
  total = 0
  private tag?: string

  constructor(
    private readonly channel: Channel,
    readonly queue: string,
  ) {}

  async start(): Promise<void> {
    const {consumerTag} = await this.channel.consume(this.queue, (msg: ConsumeMessage | null) => {
      if (!msg) return
      const id = String(msg.properties.messageId)
      this.counts.set(id, (this.counts.get(id) ?? 0) + 1)
      this.total++
    }, {noAck: true})
    this.tag = consumerTag
  }

  /** Waits (bounded) until every id given has been seen; returns those still missing. */
  async settle(ids: Iterable<string>, timeoutMs: number): Promise<string[]> {
    const want = [...ids]
    const deadline = Date.now() + timeoutMs
    let missing = want.filter((id) => !this.counts.has(id))
    while (missing.length > 0 && Date.now() < deadline) {
      await sleep(50)
      missing = missing.filter((id) => !this.counts.has(id))
    }
    return missing
  }

  /** Waits until the queue is empty and nothing new arrived for quietMs. */
  async quiet(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = -1
    let since = Date.now()
    while (Date.now() < deadline) {
      const {messageCount} = await this.channel.checkQueue(this.queue)
      if (this.total !== last || messageCount > 0) {
        last = this.total
        since = Date.now()
      } else if (Date.now() - since >= quietMs) return
      await sleep(25)
    }
    throw new Error(`queue ${this.queue} did not settle within ${timeoutMs} ms`)
  }

  duplicates(): number {
    let n = 0
    for (const c of this.counts.values()) n += c - 1
    return n
  }

  async stop(): Promise<void> {
    if (this.tag) await this.channel.cancel(this.tag).catch(() => {})
    this.tag = undefined
  }
}

/** Takes every message out of a queue (bounded by timeoutMs) and returns their message ids, in order. */
export async function takeAll(channel: Channel, queue: string, timeoutMs = 60_000): Promise<string[]> {
  const ids: string[] = []
  const deadline = Date.now() + timeoutMs
  await channel.prefetch(1000)
  for (;;) {
    const {messageCount} = await channel.checkQueue(queue)
    if (messageCount === 0) break
    if (Date.now() > deadline) throw new Error(`could not empty ${queue} within ${timeoutMs} ms`)
    const got = await new Promise<number>((resolve) => {
      let n = 0
      let idle: NodeJS.Timeout
      let tag: string | undefined
      const finish = () => {
        if (tag) void channel.cancel(tag).catch(() => {})
        resolve(n)
      }
      const arm = () => {
        clearTimeout(idle)
        idle = setTimeout(finish, 300)
      }
      arm()
      void channel.consume(queue, (msg) => {
        if (!msg) return
        ids.push(String(msg.properties.messageId))
        n++
        channel.ack(msg)
        arm()
      }).then((ok) => (tag = ok.consumerTag))
    })
    if (got === 0) await sleep(100)
  }
  return ids
}

/**
 * Makes n real dead letters: publishes to exchange work.x → work.q, then rejects them all (requeue false), so
 * the broker dead-letters each into work.dlq with a genuine x-death header (reason rejected, queue work.q).
 */
export async function makeDeadLetters(channel: Channel, n: number, prefix: string): Promise<string[]> {
  await channel.assertExchange('work.x', 'direct', {durable: true})
  await channel.assertExchange('work.dlx', 'fanout', {durable: true})
  await channel.assertQueue('work.q', {durable: true, arguments: {'x-dead-letter-exchange': 'work.dlx'}})
  await channel.assertQueue('work.dlq', {durable: true})
  await channel.bindQueue('work.q', 'work.x', 'work')
  await channel.bindQueue('work.dlq', 'work.dlx', '')
  const ids = Array.from({length: n}, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`)
  for (const id of ids) channel.publish('work.x', 'work', Buffer.from(JSON.stringify({id})), {messageId: id, persistent: true, contentType: 'application/json'})
  await waitFor(`${n} messages in work.q`, async () => (await channel.checkQueue('work.q')).messageCount >= n, 60_000)
  await channel.prefetch(1000)
  let rejected = 0
  const {consumerTag} = await channel.consume('work.q', (msg) => {
    if (!msg) return
    channel.nack(msg, false, false)
    rejected++
  })
  await waitFor(`${n} dead letters`, () => rejected >= n, 60_000)
  await channel.cancel(consumerTag)
  await waitFor(`${n} messages in work.dlq`, async () => (await channel.checkQueue('work.dlq')).messageCount >= n, 60_000)
  return ids
}
