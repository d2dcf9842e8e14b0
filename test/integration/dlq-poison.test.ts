import amqp, {type Channel, type ChannelModel} from 'amqplib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestRedis, createTestVhost, makeAll, runCli, type TestRedis, type TestVhost} from '../helpers/env.js'

/**
 * Dead letters that cannot go back — their x-death names an exchange that no longer exists, or a routing key over AMQP's
 * 255 bytes — are set aside (left in the queue, counted as failed with the reason), and the others move: exactly once,
 * however often replay runs.
 */
let vhost: TestVhost
let redis: TestRedis
let conn: ChannelModel
let ch: Channel
let env: Record<string, string>
const DLQ = 'poison.dlq'

const death = (exchange: string, routingKey: string) => ({
  'x-death': [{count: 1, reason: 'rejected', queue: 'orders.q', time: {'!': 'timestamp', value: Math.floor(Date.now() / 1000) - 60}, exchange, 'routing-keys': [routingKey]}],
  'x-first-death-reason': 'rejected', 'x-first-death-queue': 'orders.q', 'x-first-death-exchange': exchange,
})

beforeAll(async () => {
  ;[vhost, redis] = await makeAll([createTestVhost(), createTestRedis()] as const)
  env = cliEnv({vhost, redis})
  conn = await amqp.connect(vhost.amqpUrl)
  ch = await conn.createChannel()
  await ch.assertExchange('orders.x', 'topic', {durable: true})
  await ch.assertQueue('orders.q', {durable: true})
  await ch.bindQueue('orders.q', 'orders.x', 'order.#')
  await ch.assertQueue(DLQ, {durable: true})
  for (let i = 0; i < 10; i++) ch.sendToQueue(DLQ, Buffer.from(`{"n":${i}}`), {messageId: `good-${i}`, persistent: true, headers: death('orders.x', 'order.created')})
  ch.sendToQueue(DLQ, Buffer.from('{}'), {messageId: 'gone-1', persistent: true, headers: death('gone.x', 'order.created')})
  ch.sendToQueue(DLQ, Buffer.from('{}'), {messageId: 'long-1', persistent: true, headers: death('orders.x', `order.${'k'.repeat(300)}`)})
  while ((await ch.checkQueue(DLQ)).messageCount < 12) await new Promise((r) => setTimeout(r, 50))
})

afterAll(async () => {
  await conn?.close().catch(() => {})
  await Promise.all([vhost?.drop(), redis?.cleanup()])
})

describe('dlq replay with dead letters that cannot go back', () => {
  it('sets them aside with their reason, moves the others once, and a second run copies nothing again', async () => {
    const first = await runCli(['dlq', 'replay', DLQ, '--yes', '--json'], {env})
    expect(first.code, first.stderr).toBe(1)
    const report = JSON.parse(first.stdout)
    expect(report).toMatchObject({moved: 10, failed: 2, skipped: 0})
    const reasons = Object.fromEntries(report.failures.map((f: {messageId: string; error: string}) => [f.messageId, f.error]))
    expect(reasons['gone-1']).toBe('set aside: exchange "gone.x" does not exist')
    expect(reasons['long-1']).toMatch(/^set aside: the routing key is 306 bytes, above AMQP's 255-byte limit/)
    expect((await ch.checkQueue('orders.q')).messageCount).toBe(10)
    expect((await ch.checkQueue(DLQ)).messageCount).toBe(2)

    const second = await runCli(['dlq', 'replay', DLQ, '--yes', '--json'], {env})
    expect(second.code).toBe(1)
    expect(JSON.parse(second.stdout)).toMatchObject({moved: 0, failed: 2})
    expect((await ch.checkQueue('orders.q')).messageCount).toBe(10)
    expect((await ch.checkQueue(DLQ)).messageCount).toBe(2)
  })

  it('a quorum dead-letter queue with a delivery limit is not read (each read spends a delivery) unless --allow-deliveries', async () => {
    await ch.assertQueue('limited.dlq', {durable: true, arguments: {'x-queue-type': 'quorum', 'x-delivery-limit': 3}})
    ch.sendToQueue('limited.dlq', Buffer.from('{}'), {messageId: 'lim-1', persistent: true})
    while ((await ch.checkQueue('limited.dlq')).messageCount < 1) await new Promise((r) => setTimeout(r, 50))
    for (const command of [['dlq', 'inspect', 'limited.dlq'], ['dlq', 'replay', 'limited.dlq', '--to-queue', 'orders.q', '--yes'], ['dlq', 'purge', 'limited.dlq', '--yes']]) {
      const refused = await runCli(command, {env})
      expect(refused.code, command.join(' ')).toBe(2)
      expect(refused.stderr).toBe('Error: limited.dlq is a quorum queue with a delivery limit of 3: every read counts as a delivery of each message held, and past the limit RabbitMQ dead-letters or drops it; pass --allow-deliveries to read it anyway, or raise or remove its delivery limit first\n')
    }
    expect((await ch.checkQueue('limited.dlq')).messageCount).toBe(1)
    const allowed = await runCli(['dlq', 'inspect', 'limited.dlq', '--allow-deliveries', '--json'], {env})
    expect(allowed.code).toBe(1)
    expect(JSON.parse(allowed.stdout).depth).toBe(1)
  })
})
