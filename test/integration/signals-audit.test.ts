import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import amqp, {type Channel, type ChannelModel} from 'amqplib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RUN_JS, runCli} from '../helpers/env.js'
import {createReconcileWorld, type ReconcileWorld} from '../helpers/reconcile.js'

/** SIGTERM (Kubernetes, systemd) stops a run like Ctrl-C does; `msgops audit` reads what the runs recorded. */
let world: ReconcileWorld
let broker: ChannelModel
let ch: Channel
let configFile: string
const DLQ = 'orders.dlq'

beforeAll(async () => {
  world = await createReconcileWorld('msgops_sig', {exchange: 'orders', type: 'topic', queue: 'billing', routingKey: 'order.created'})
  configFile = join(world.dir, 'msgops.yaml')
  writeFileSync(configFile, `cache:\n  keyPattern: "${world.redis.prefix}order:{id}"\n`)
  broker = await amqp.connect(world.vhost.amqpUrl)
  ch = await broker.createChannel()
  await ch.assertQueue(DLQ, {durable: true})
  await ch.assertQueue('orders.retry', {durable: true})
  for (let i = 0; i < 300; i++) ch.sendToQueue(DLQ, Buffer.from(`{"n":${i}}`), {messageId: `sig-${i}`, persistent: true})
  while ((await ch.checkQueue(DLQ)).messageCount < 300) await new Promise((r) => setTimeout(r, 50))
})

afterAll(async () => {
  await broker?.close().catch(() => {})
  await world?.cleanup()
})

const cli = (...args: string[]) => runCli([...args, '--config', configFile], {env: world.env})

describe('SIGTERM and the audit', () => {
  it('SIGTERM finishes the batch in hand, releases the lock, writes the audit record and exits 143', async () => {
    const child = spawn(process.execPath, [RUN_JS, 'dlq', 'replay', DLQ, '--to-queue', 'orders.retry', '--rate', '50', '--prefetch', '10', '--yes', '--config', configFile], {
      env: {...process.env, ...world.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    // Once something has moved, the run is mid-way.
    while ((await ch.checkQueue('orders.retry')).messageCount === 0) await new Promise((r) => setTimeout(r, 50))
    // While it runs its lock is in the registry that top and metrics serve read (no scan of the keyspace).
    const lockKey = `${world.redis.prefix}lock:dlq-replay:${DLQ}`
    expect(await world.redis.client.sismember(`${world.redis.prefix}locks`, lockKey)).toBe(1)
    const sent = Date.now()
    child.kill('SIGTERM')
    expect(await exited).toBe(143)
    expect(Date.now() - sent).toBeLessThan(10_000)
    expect(stderr).toContain('SIGTERM: finishing the batch in hand, then stopping')
    const moved = (await ch.checkQueue('orders.retry')).messageCount
    expect(moved).toBeGreaterThan(0)
    expect(moved).toBeLessThan(300)
    expect(moved + (await ch.checkQueue(DLQ)).messageCount).toBe(300)
    expect(await world.redis.client.exists(`${world.redis.prefix}lock:dlq-replay:${DLQ}`)).toBe(0)
    expect(await world.redis.client.sismember(`${world.redis.prefix}locks`, lockKey)).toBe(0)

    const audit = await cli('audit', '--command', 'dlq replay', '--json')
    expect(audit.code).toBe(0)
    const page = JSON.parse(audit.stdout) as {records: {id: string; at: string; command: string; exitCode: number; outcome: {moved: number; interrupted: boolean}}[]}
    expect(page.records).toHaveLength(1)
    expect(page.records[0]).toMatchObject({command: 'dlq replay', exitCode: 143, outcome: {moved, interrupted: true}})
    // An exact instant: written by the server a moment ago, whatever the zones of client and server.
    expect(Math.abs(Date.parse(page.records[0].at) - sent)).toBeLessThan(60_000)
  })

  it('audit filters by command, result and time; audit show prints one record whole; an unknown id exits 1', async () => {
    const purge = await cli('dlq', 'purge', 'orders.retry', '--yes')
    expect(purge.code, purge.stderr).toBe(0)
    const all = JSON.parse((await cli('audit', '--json')).stdout) as {records: {id: string; command: string}[]}
    expect(all.records.map((r) => r.command)).toEqual(['dlq purge', 'dlq replay'])
    expect(JSON.parse((await cli('audit', '--command', 'dlq *', '--result', 'ok', '--json')).stdout).records.map((r: {command: string}) => r.command)).toEqual(['dlq purge'])
    expect(JSON.parse((await cli('audit', '--result', 'interrupted', '--json')).stdout).records).toHaveLength(1)
    expect(JSON.parse((await cli('audit', '--until', '1h', '--json')).stdout).records).toHaveLength(0)
    const paged = JSON.parse((await cli('audit', '--limit', '1', '--json')).stdout)
    expect(paged.records.map((r: {command: string}) => r.command)).toEqual(['dlq purge'])
    expect(JSON.parse((await cli('audit', '--limit', '1', '--before', paged.next, '--json')).stdout).records[0].command).toBe('dlq replay')

    const shown = await cli('audit', 'show', all.records[0].id)
    expect(shown.code).toBe(0)
    expect(shown.stdout).toMatch(/audit \d+ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}dlq purge {2}ok/)
    expect(shown.stdout).toContain('"purged":')
    const missing = await cli('audit', 'show', '999999')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no audit record has id 999999')
    const human = await cli('audit')
    expect(human.stdout).toMatch(/dlq replay .*interrupted \(143\)/)
  })
})
