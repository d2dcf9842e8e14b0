import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import amqp, {type Channel, type ChannelModel} from 'amqplib'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {createReconcileWorld, type ReconcileWorld} from '../helpers/reconcile.js'
import {closeTerminals, collapse, openTerminal, type Terminal} from '../helpers/terminal.js'

/**
 * What a person at a terminal sees, in a real one (tmux): prompts that name their target, Ctrl-C's line above the
 * progress bar, the bar's ETA, tables that line up in colour and fit 80 columns.
 */
let world: ReconcileWorld
let broker: ChannelModel
let ch: Channel
let configFile: string
const terminals: Terminal[] = []
const DLQ = 'orders.dlq'

function terminal(args: string[], size?: {width: number; height: number}): Terminal {
  const t = openTerminal([...args, '--config', configFile], world.env, size)
  terminals.push(t)
  return t
}

/** Dead letters with a genuine x-death: published to orders.work, rejected there into orders.dlq. */
async function deadLetters(n: number): Promise<void> {
  for (let i = 0; i < n; i++) ch.publish('', 'orders.work', Buffer.from(`{"n":${i}}`), {messageId: `tty-${i}`, persistent: true})
  const consumer = await broker.createChannel()
  await consumer.prefetch(500)
  let rejected = 0
  await consumer.consume('orders.work', (msg) => {
    if (msg) {
      consumer.nack(msg, false, false)
      rejected++
    }
  })
  while (rejected < n || (await ch.checkQueue(DLQ)).messageCount < n) await new Promise((r) => setTimeout(r, 50))
  await consumer.close()
}

beforeAll(async () => {
  world = await createReconcileWorld('msgops_tty', {exchange: 'orders', type: 'topic', queue: 'billing', routingKey: 'order.created'})
  configFile = join(world.dir, 'msgops.yaml')
  writeFileSync(configFile, `cache:\n  keyPattern: "${world.redis.prefix}order:{id}"\n`)
  const init = await runCli(['schema', 'init', '--config', configFile], {env: world.env})
  expect(init.code, init.stderr).toBe(0)
  broker = await amqp.connect(world.vhost.amqpUrl)
  ch = await broker.createChannel()
  await ch.assertQueue(DLQ, {durable: true})
  await ch.assertQueue('orders.work', {durable: true, arguments: {'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': DLQ}})
  await ch.assertQueue('orders.retry', {durable: true})
  await deadLetters(600)
})

afterEach(() => {
  for (const t of terminals.splice(0)) t.close()
})

afterAll(async () => {
  closeTerminals()
  await broker?.close().catch(() => {})
  await world?.cleanup()
})

describe('at a terminal', () => {
  it('the replay prompt names the broker, the queue and where the messages go; no changes nothing and exits 0', async () => {
    const t = terminal(['dlq', 'replay', DLQ, '--to-queue', 'orders.retry'])
    const screen = await t.waitFor(/Replay up to[\s\S]*\? \(y\/N\)/)
    expect(collapse(screen)).toContain(`Replay up to 600 dead letters from ${DLQ} on RabbitMQ 127.0.0.1:5672 vhost ${world.vhost.name}, to queue orders.retry (through the default exchange)?`)
    t.keys('n', 'Enter')
    expect(await t.exitCode()).toBe(0)
    expect(t.screen()).toContain('cancelled: nothing was changed')
    expect((await ch.checkQueue(DLQ)).messageCount).toBe(600)
    expect((await ch.checkQueue('orders.retry')).messageCount).toBe(0)
  })

  it("Ctrl-C during a replay: its line stands above the bar, whole; the bar's ETA is a time; exit 130", async () => {
    const t = terminal(['dlq', 'replay', DLQ, '--to-queue', 'orders.retry', '--rate', '100', '--prefetch', '20', '--yes'])
    await t.waitFor(/replaying \[.*\] \d+\/600 · \d+\/s · ETA \d/)
    t.keys('C-c')
    expect(await t.exitCode()).toBe(130)
    const screen = t.screen()
    expect(screen).toMatch(/^interrupted: finishing the batch in hand, then stopping \(Ctrl-C again to stop now\)$/m)
    expect(screen).not.toMatch(/ETA (LL|NU|IN)/)
    // What moved was confirmed before its dead letter was acked: the two queues still hold all 600.
    const moved = (await ch.checkQueue('orders.retry')).messageCount
    expect(moved).toBeGreaterThan(0)
    expect(moved + (await ch.checkQueue(DLQ)).messageCount).toBe(600)
    await ch.purgeQueue('orders.retry')
  })

  it("reconcile's table lines up in colour and fits an 80-column terminal", async () => {
    await world.conn.query("INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES ('o1', 'm1', 'paid', NOW(3) - INTERVAL 1 HOUR, NOW(3) - INTERVAL 1 HOUR)")
    for (const width of [160, 80]) {
      const t = terminal(['reconcile', '--check', 'order_without_message', '--check', 'message_stuck'], {width, height: 40})
      expect(await t.exitCode()).toBe(1)
      const table = t.screen().split('\n').filter((l) => /^[│┌└├]/.test(l))
      expect(table.length).toBeGreaterThanOrEqual(4)
      expect(new Set(table.map((l) => [...l].length)).size, table.join('\n')).toBe(1)
      expect([...table[0]].length).toBeLessThanOrEqual(width)
      expect(table.join('\n')).toMatch(/order_without_message\s+│ 1 /)
      t.close()
    }
  })
})
