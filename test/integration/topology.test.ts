import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import amqp from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestVhost, runCli, type TestDatabase, type TestVhost} from '../helpers/env.js'

const EXAMPLE = fileURLToPath(new URL('../../examples/topology.yaml', import.meta.url))

let db: TestDatabase
let vhost: TestVhost
let dir: string
let env: Record<string, string>

beforeAll(async () => {
  ;[db, vhost] = await Promise.all([createTestDatabase(), createTestVhost()])
  dir = mkdtempSync(join(tmpdir(), 'msgops-topology-'))
  env = cliEnv({db, vhost})
})

afterAll(async () => {
  await Promise.all([db?.drop(), vhost?.drop()])
  if (dir) rmSync(dir, {recursive: true, force: true})
})

interface Report {
  check: string
  created: {kind: string; name: string}[]
  unchanged: {kind: string; name: string}[]
  drifted: {kind: string; name: string; differences: {field: string; file: unknown; broker: unknown}[]}[]
  extra: {kind: string; name: string}[]
}

async function json(args: string[], extraEnv: Record<string, string> = {}): Promise<{code: number | null; report: Report; stderr: string}> {
  const result = await runCli([...args, '--json'], {env: {...env, ...extraEnv}})
  let report: Report
  try {
    report = JSON.parse(result.stdout) as Report
  } catch {
    throw new Error(`not JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  return {code: result.code, report, stderr: result.stderr}
}

const EXAMPLE_OBJECTS = [
  {kind: 'exchange', name: 'order_exchange'},
  {kind: 'exchange', name: 'order_exchange.dlx'},
  {kind: 'queue', name: 'order_queue'},
  {kind: 'queue', name: 'order_queue.dlq'},
  {kind: 'binding', name: 'order_exchange -> order_queue [order.*]'},
  {kind: 'binding', name: 'order_exchange.dlx -> order_queue.dlq [order_queue.dlq]'},
]

describe('topology plan / apply / export on a real broker', () => {
  it('plan on an empty vhost: everything to create, exit 1, built-ins never extra', async () => {
    const {code, report} = await json(['topology', 'plan', EXAMPLE])
    expect(code).toBe(1)
    expect(report.check).toBe('full')
    expect(report.created).toEqual(EXAMPLE_OBJECTS)
    expect(report.extra).toEqual([])
  })

  it('apply creates it without --yes or a terminal, exit 0; the second apply and a plan change nothing', async () => {
    const first = await json(['topology', 'apply', EXAMPLE])
    expect(first.code).toBe(0)
    expect(first.report.created).toEqual(EXAMPLE_OBJECTS)
    expect(first.report.drifted).toEqual([])

    const second = await json(['topology', 'apply', EXAMPLE])
    expect(second.code).toBe(0)
    expect(second.report.created).toEqual([])
    expect(second.report.unchanged).toEqual(EXAMPLE_OBJECTS)

    const plan = await runCli(['topology', 'plan', EXAMPLE], {env})
    expect(plan.code).toBe(0)
    expect(plan.stdout).toMatch(/0 to create, 0 drifted, 6 unchanged, 0 extra\. nothing to change/)
  })

  it('the queues really route: order.created reaches order_queue, a rejected one reaches order_queue.dlq', async () => {
    const conn = await amqp.connect(vhost.amqpUrl)
    try {
      const ch = await conn.createConfirmChannel()
      ch.publish('order_exchange', 'order.created', Buffer.from('{}'), {messageId: 'm1'})
      await ch.waitForConfirms()
      const msg = await ch.get('order_queue')
      expect(msg && msg.properties.messageId).toBe('m1')
      ch.nack(msg as amqp.GetMessage, false, false)
      let dead: amqp.GetMessage | false = false
      for (let i = 0; i < 50 && !dead; i++) {
        dead = await ch.get('order_queue.dlq', {noAck: true})
        if (!dead) await new Promise((r) => setTimeout(r, 20))
      }
      expect(dead && dead.properties.messageId).toBe('m1')
    } finally {
      await conn.close()
    }
  })

  it('writes an audit record for each apply, none for plan or --dry-run', async () => {
    const dry = await json(['topology', 'apply', EXAMPLE, '--dry-run'])
    expect(dry.code).toBe(0)
    const conn = await mysql.createConnection(db.url)
    try {
      const [rows] = await conn.query('SELECT command, exit_code, outcome FROM msgops_audit ORDER BY id')
      const audit = rows as {command: string; exit_code: number; outcome: unknown}[]
      expect(audit.map((r) => [r.command, r.exit_code])).toEqual([
        ['topology:apply', 0],
        ['topology:apply', 0],
      ])
      const outcome = typeof audit[0].outcome === 'string' ? JSON.parse(audit[0].outcome) : audit[0].outcome
      expect(outcome.created).toHaveLength(6)
      expect(outcome.created).toContain('queue order_queue')
      expect(outcome.counts).toMatchObject({created: 6, drifted: 0})
    } finally {
      await conn.end()
    }
  })

  it('objects made by others are reported as extra and left alone', async () => {
    const conn = await amqp.connect(vhost.amqpUrl)
    try {
      const ch = await conn.createChannel()
      await ch.assertQueue('legacy_q', {durable: true, arguments: {'x-queue-type': 'classic'}})
      await ch.bindQueue('legacy_q', 'amq.topic', '#')
      await ch.assertQueue('votes', {durable: true, arguments: {'x-queue-type': 'quorum', 'x-delivery-limit': 5}})
      await ch.assertExchange('legacy_x', 'fanout', {durable: false})
      // An exclusive queue belongs to this connection: not extra.
      await ch.assertQueue('', {exclusive: true})
      const {code, report} = await json(['topology', 'plan', EXAMPLE])
      expect(code).toBe(0)
      expect(report.extra).toEqual([
        {kind: 'exchange', name: 'legacy_x'},
        {kind: 'queue', name: 'legacy_q'},
        {kind: 'queue', name: 'votes'},
        {kind: 'binding', name: 'amq.topic -> legacy_q [#]'},
      ])
      const apply = await json(['topology', 'apply', EXAMPLE])
      expect(apply.code).toBe(0)
      expect(apply.report.extra).toHaveLength(4)
      await ch.checkQueue('legacy_q')
    } finally {
      await conn.close()
    }
  })

  it('export, then plan of the export on the same broker: nothing to change, in both formats', async () => {
    const yaml = await runCli(['topology', 'export'], {env})
    expect(yaml.code).toBe(0)
    expect(yaml.stdout).toMatch(/name: order_queue\n\s+arguments:\n\s+deadLetterExchange: order_exchange\.dlx/)
    expect(yaml.stdout).toMatch(/name: votes\n\s+type: quorum/)
    // Built-ins and implicit bindings stay out; a binding from amq.topic that someone made is in.
    expect(yaml.stdout).not.toMatch(/name: amq\.|name: ""|source: ""|x-queue-type/)
    expect(yaml.stdout).toMatch(/source: amq\.topic\n\s+destination: legacy_q/)
    const yamlFile = join(dir, 'export.yaml')
    writeFileSync(yamlFile, yaml.stdout)
    const fromYaml = await json(['topology', 'plan', yamlFile])
    expect(fromYaml.code).toBe(0)
    expect(fromYaml.report.created).toEqual([])
    expect(fromYaml.report.drifted).toEqual([])
    expect(fromYaml.report.extra).toEqual([])
    expect(fromYaml.report.unchanged).toHaveLength(10)

    const defs = await runCli(['topology', 'export', '--format', 'definitions'], {env})
    expect(defs.code).toBe(0)
    const defsFile = join(dir, 'definitions.json')
    writeFileSync(defsFile, defs.stdout)
    const fromDefs = await json(['topology', 'plan', defsFile])
    expect(fromDefs.code).toBe(0)
    expect(fromDefs.report.extra).toEqual([])
    expect(fromDefs.report.unchanged).toHaveLength(10)
  })

  it('--dry-run changes nothing and exits like plan', async () => {
    const file = join(dir, 'more.yaml')
    writeFileSync(file, 'queues:\n  - name: more_q\n    arguments: {messageTtl: 1000}\n')
    const dry = await json(['topology', 'apply', file, '--dry-run'])
    expect(dry.code).toBe(1)
    expect(dry.report.created).toEqual([{kind: 'queue', name: 'more_q'}])
    const conn = await amqp.connect(vhost.amqpUrl)
    try {
      const ch = await conn.createChannel()
      ch.on('error', () => {})
      await expect(ch.checkQueue('more_q')).rejects.toThrow(/NOT_FOUND/)
    } finally {
      await conn.close().catch(() => {})
    }
  })

  it('a wrong file is exit 2 with one line naming the path', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'queues:\n  - name: a\n  - name: b\n  - name: c\n  - name: d\n    arguments: {messageTtl: "60s"}\n')
    const result = await runCli(['topology', 'apply', file], {env})
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('queues[3].arguments.messageTtl: expected a number')
    const missing = await runCli(['topology', 'plan', join(dir, 'nope.yaml')], {env})
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/cannot read topology file .*nope\.yaml: no such file/)
    // A management API that refuses us is an error, not a reason to fall back to existence checks.
    const refused = await runCli(['topology', 'plan', EXAMPLE], {env: {...env, MSGOPS_MANAGEMENT_URL: 'http://guest:wrong@127.0.0.1:15672'}})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/refused the credentials/)
    expect(refused.stderr).not.toContain('wrong')
  })

  it('every kind of object, argument and binding is declared and then compares equal', async () => {
    const file = join(dir, 'kinds.yaml')
    writeFileSync(
      file,
      `exchanges:
  - {name: events, type: topic, arguments: {alternateExchange: unrouted}}
  - {name: unrouted, type: fanout}
  - {name: by_header, type: headers, internal: true}
  - {name: temp_x, type: direct, durable: false, autoDelete: true}
queues:
  - {name: ballots, type: quorum, arguments: {deliveryLimit: 5, deadLetterStrategy: at-most-once, overflow: reject-publish}}
  - {name: audit_stream, type: stream, arguments: {maxAge: 7D}}
  - {name: scratch, durable: false, autoDelete: true, arguments: {maxPriority: 5, expires: 600000, queueMode: lazy, singleActiveConsumer: true}}
bindings:
  - {source: events, destination: by_header, destinationType: exchange, routingKey: 'paid.#'}
  - {source: by_header, destination: ballots, arguments: {x-match: all, kind: paid}}
  - {source: unrouted, destination: audit_stream}
  - {source: amq.topic, destination: scratch, routingKey: '#'}
`,
    )
    const apply = await json(['topology', 'apply', file])
    expect(apply.code).toBe(0)
    expect(apply.report.created).toHaveLength(11)
    expect(apply.report.created).toContainEqual({kind: 'binding', name: 'events -> exchange by_header [paid.#]'})
    const plan = await json(['topology', 'plan', file])
    expect(plan.code).toBe(0)
    expect(plan.report.unchanged).toHaveLength(11)
    expect(plan.report.drifted).toEqual([])
  })
})
