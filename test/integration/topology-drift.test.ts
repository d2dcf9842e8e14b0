import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import amqp from 'amqplib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestVhost, runCli, type TestDatabase, type TestVhost} from '../helpers/env.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/topology.yaml', import.meta.url))
/** Nothing listens on port 1 of loopback: the management API is unreachable. */
const NO_MANAGEMENT = {MSGOPS_MANAGEMENT_URL: 'http://guest:guest@127.0.0.1:1'}

let db: TestDatabase
let vhost: TestVhost
let dir: string
let env: Record<string, string>
let drift: string

beforeAll(async () => {
  ;[db, vhost] = await Promise.all([createTestDatabase(), createTestVhost()])
  dir = mkdtempSync(join(tmpdir(), 'msgops-topology-drift-'))
  env = cliEnv({db, vhost})
  // The example, with a TTL on both queues that the broker's queues do not have.
  drift = join(dir, 'drift.yaml')
  writeFileSync(
    drift,
    `exchanges:
  - {name: order_exchange, type: topic}
  - {name: order_exchange.dlx, type: direct}
queues:
  - name: order_queue
    arguments: {deadLetterExchange: order_exchange.dlx, deadLetterRoutingKey: order_queue.dlq, messageTtl: 60000}
  - name: order_queue.dlq
    arguments: {messageTtl: 60000}
bindings:
  - {source: order_exchange, destination: order_queue, routingKey: order.*}
  - {source: order_exchange.dlx, destination: order_queue.dlq, routingKey: order_queue.dlq}
`,
  )
  const first = await runCli(['topology', 'apply', EXAMPLE], {env})
  if (first.code !== 0) throw new Error(`apply failed: ${first.stderr}`)
})

afterAll(async () => {
  await Promise.all([db?.drop(), vhost?.drop()])
  if (dir) rmSync(dir, {recursive: true, force: true})
})

async function json(args: string[], extraEnv: Record<string, string> = {}) {
  const result = await runCli([...args, '--json'], {env: {...env, ...extraEnv}})
  let report: Record<string, any>
  try {
    report = JSON.parse(result.stdout) as Record<string, any>
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return {code: result.code, stderr: result.stderr, report}
}

async function withChannel<T>(work: (ch: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
  const conn = await amqp.connect(vhost.amqpUrl)
  try {
    const ch = await conn.createConfirmChannel()
    // A refused declare closes the channel; the rejection is what the test looks at.
    ch.on('error', () => {})
    return await work(ch)
  } finally {
    await conn.close()
  }
}

describe('topology drift', () => {
  it('plan names the differing argument and says RabbitMQ cannot change it in place', async () => {
    const {code, report} = await json(['topology', 'plan', drift])
    expect(code).toBe(1)
    expect(report.created).toEqual([])
    expect(report.drifted).toEqual([
      {kind: 'queue', name: 'order_queue', differences: [{field: 'x-message-ttl', file: 60000, broker: null}], reason: expect.stringMatching(/cannot change this in place/)},
      {kind: 'queue', name: 'order_queue.dlq', differences: [{field: 'x-message-ttl', file: 60000, broker: null}], reason: expect.stringMatching(/cannot change this in place/)},
    ])
  })

  it('apply leaves drifted queues alone and exits 1', async () => {
    const result = await runCli(['topology', 'apply', drift], {env})
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/drift remains/)
    const after = await json(['topology', 'plan', drift])
    expect(after.report.drifted).toHaveLength(2)
  })

  it('without the management API: plan says only existence was checked; apply turns PRECONDITION_FAILED into one line', async () => {
    const plan = await runCli(['topology', 'plan', drift], {env: {...env, ...NO_MANAGEMENT}})
    expect(plan.code).toBe(0)
    expect(plan.stdout).toMatch(/existence checked with passive declares only/)
    expect(plan.stderr).toMatch(/only the existence of exchanges and queues was checked/)

    const apply = await json(['topology', 'apply', drift], NO_MANAGEMENT)
    expect(apply.code).toBe(1)
    expect(apply.report.check).toBe('existence')
    expect(apply.report.drifted.map((d: {name: string}) => d.name)).toEqual(['order_queue', 'order_queue.dlq'])
    expect(apply.report.notes).toContain('RabbitMQ refused queue "order_queue": x-message-ttl is none on the broker, 60000 in the file: it cannot be changed in place')
  })

  it('--recreate-drifted asks first: without a terminal and without --yes it refuses and changes nothing', async () => {
    const result = await runCli(['topology', 'apply', drift, '--recreate-drifted'], {env})
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/no terminal to confirm on; pass --yes/)
    // Unchanged: the queue still lacks the TTL, so a declare with it is refused.
    await withChannel(async (ch) => {
      await expect(ch.assertQueue('order_queue', {durable: true, arguments: {'x-dead-letter-exchange': 'order_exchange.dlx', 'x-dead-letter-routing-key': 'order_queue.dlq', 'x-message-ttl': 60000}})).rejects.toThrow(/PRECONDITION_FAILED/)
    })
  })

  it('--recreate-drifted --yes recreates the empty queue with its bindings, never the one holding a message', async () => {
    await withChannel(async (ch) => {
      ch.publish('order_exchange.dlx', 'order_queue.dlq', Buffer.from('keep me'), {messageId: 'dead-1', persistent: true})
      await ch.waitForConfirms()
    })
    const {code, report} = await json(['topology', 'apply', drift, '--recreate-drifted', '--yes'])
    expect(code).toBe(1)
    expect(report.recreated).toEqual([{kind: 'queue', name: 'order_queue'}])
    expect(report.drifted.map((d: {name: string}) => d.name)).toEqual(['order_queue.dlq'])
    expect(report.notes.join('\n')).toMatch(/"order_queue\.dlq" holds 1 message\(s\): not recreated/)

    // The dead letter is still there, and the recreated queue still gets order.* messages.
    await withChannel(async (ch) => {
      expect((await ch.checkQueue('order_queue.dlq')).messageCount).toBe(1)
      ch.publish('order_exchange', 'order.paid', Buffer.from('{}'), {messageId: 'm2'})
      await ch.waitForConfirms()
      const msg = await ch.get('order_queue', {noAck: true})
      expect(msg && msg.properties.messageId).toBe('m2')
    })
    const plan = await json(['topology', 'plan', drift])
    expect(plan.report.unchanged).toContainEqual({kind: 'queue', name: 'order_queue'})
    expect(plan.report.unchanged).toContainEqual({kind: 'binding', name: 'order_exchange -> order_queue [order.*]'})
  })
})
