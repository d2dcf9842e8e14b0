import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import amqp, {type Channel, type ChannelModel} from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

const EXCHANGE = 'order_exchange'
const QUEUE = 'order_queue'
const DLX = 'order_exchange.dlx'
const DLQ = 'order_queue.dlq'

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let conn: ChannelModel
let ch: Channel
let env: Record<string, string>
let dir: string

async function depth(queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** Genuine dead letters: published to order_exchange, rejected by a consumer of order_queue, with an error header. */
async function deadLetter(specs: {id: string; error: string}[]): Promise<void> {
  for (const s of specs) ch.publish(EXCHANGE, 'order.created', Buffer.from(JSON.stringify({order: s.id, total: 10})), {messageId: s.id, contentType: 'application/json', headers: {'x-exception': s.error}, persistent: true})
  await waitFor(async () => (await depth(QUEUE)) === specs.length, 'order_queue to fill')
  const consumer = await conn.createChannel()
  let rejected = 0
  await consumer.consume(QUEUE, (msg) => {
    if (!msg) return
    consumer.nack(msg, false, false)
    rejected++
  })
  await waitFor(async () => rejected === specs.length && (await depth(DLQ)) === specs.length, 'dead letters')
  await consumer.close()
}

async function takeAll(queue: string): Promise<{id: string; body: string; headers: Record<string, unknown>}[]> {
  const out = []
  for (;;) {
    const msg = await ch.get(queue, {noAck: true})
    if (!msg) return out
    out.push({id: String(msg.properties.messageId), body: msg.content.toString(), headers: msg.properties.headers ?? {}})
  }
}

function oneLineError(run: {code: number | null; stderr: string}, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
}

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase(), createTestVhost(), createTestRedis()] as const)
  env = cliEnv({db, vhost, redis})
  conn = await amqp.connect(vhost.amqpUrl)
  ch = await conn.createChannel()
  await ch.assertExchange(EXCHANGE, 'topic', {durable: true})
  await ch.assertExchange(DLX, 'fanout', {durable: true})
  await ch.assertQueue(QUEUE, {durable: true, arguments: {'x-dead-letter-exchange': DLX}})
  await ch.bindQueue(QUEUE, EXCHANGE, 'order.*')
  await ch.assertQueue(DLQ, {durable: true})
  await ch.bindQueue(DLQ, DLX, '')
  await ch.assertQueue('retry_q', {durable: true})
  dir = mkdtempSync(join(tmpdir(), 'msgops-dlq-edit-'))
})

afterAll(async () => {
  if (dir) rmSync(dir, {recursive: true, force: true})
  await conn?.close().catch(() => {})
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
})

beforeEach(async () => {
  for (const q of [QUEUE, DLQ, 'retry_q']) await ch.purgeQueue(q)
})

describe('dlq inspect: the fingerprint beside the group key', () => {
  it('the same error with other ids: two group keys, one fingerprint; replay --group FP moves both, and only them', async () => {
    await deadLetter([
      {id: 'a', error: 'order 17 not found'},
      {id: 'b', error: 'order 90210 not found'},
      {id: 'c', error: 'payment timed out'},
    ])
    const res = await runCli(['dlq', 'inspect', DLQ, '--json'], {env})
    expect(res.code, res.stderr).toBe(1)
    const groups = JSON.parse(res.stdout).groups as {key: string; fingerprint: string; count: number; error: string}[]
    expect(groups).toHaveLength(3)
    const notFound = groups.filter((g) => g.error.endsWith('not found'))
    expect(new Set(notFound.map((g) => g.key)).size).toBe(2)
    expect(new Set(notFound.map((g) => g.fingerprint)).size).toBe(1)
    expect(groups.find((g) => g.error === 'payment timed out')!.fingerprint).not.toBe(notFound[0].fingerprint)
    const text = await runCli(['dlq', 'inspect', DLQ], {env: {...env, COLUMNS: '200'}})
    expect(text.stdout).toContain(notFound[0].fingerprint)

    const replay = await runCli(['dlq', 'replay', DLQ, '--group', notFound[0].fingerprint, '--yes', '--json'], {env})
    expect(replay.code, replay.stderr).toBe(0)
    expect(JSON.parse(replay.stdout).moved).toBe(2)
    expect((await takeAll(QUEUE)).map((m) => m.id).sort()).toEqual(['a', 'b'])
    expect((await takeAll(DLQ)).map((m) => m.id)).toEqual(['c'])
  })
})

describe('dlq replay --edit: exactly one copy', () => {
  it('through a real editor: the edited copy arrives once, the original leaves the DLQ, the others stay in order; the audit says each step', async () => {
    await deadLetter([{id: 'm-0', error: 'x'}, {id: 'm-1', error: 'x'}, {id: 'm-2', error: 'x'}])
    const editor = join(dir, 'editor.sh')
    writeFileSync(editor, '#!/bin/sh\nsed -i \'s/"total": 10/"total": 11/\' "$1"\n')
    chmodSync(editor, 0o755)
    const run = await runCli(['dlq', 'replay', DLQ, '--message-id', 'm-1', '--edit', '--yes'], {env: {...env, EDITOR: editor, VISUAL: ''}})
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/-\s+"total": 10/)
    expect(run.stdout).toMatch(/\+\s+"total": 11/)
    expect(run.stdout).toMatch(/the edited copy was published to order_exchange → order.created and confirmed, then the original was removed/)
    const arrived = await takeAll(QUEUE)
    expect(arrived.map((m) => [m.id, m.body])).toEqual([['m-1', '{"order":"m-1","total":11}']])
    expect(arrived[0].headers['x-msgops-edited-at']).toMatch(/^\d{4}-/)
    expect(arrived[0].headers['x-msgops-replay-count']).toBe(1)
    expect((await takeAll(DLQ)).map((m) => m.id)).toEqual(['m-0', 'm-2'])
    const sql = await mysql.createConnection(db.url)
    const [audit] = await sql.query("SELECT outcome FROM msgops_audit WHERE command = 'dlq:replay' ORDER BY id")
    await sql.end()
    const steps = (audit as {outcome: unknown}[]).map((a) => (typeof a.outcome === 'string' ? JSON.parse(a.outcome) : a.outcome).step)
    // The group replay of the test before has no step; this run wrote two records: at the publish, and at the end.
    expect(steps.filter((s) => s !== undefined)).toEqual(['published', 'acked'])
  })

  it('--body-file, --set-header and --to-queue (the override is named in the report); --new-message-id', async () => {
    await deadLetter([{id: 'm-1', error: 'x'}])
    const file = join(dir, 'body.json')
    writeFileSync(file, '{"order": "m-1", "total": 12}')
    const run = await runCli(['dlq', 'replay', DLQ, '--message-id', 'm-1', '--body-file', file, '--set-header', 'x-fixed-by=ops', '--to-queue', 'retry_q', '--new-message-id', '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report).toMatchObject({step: 'acked', target: {exchange: '', routingKey: 'retry_q'}})
    expect(report.publishedAs).not.toBe('m-1')
    const arrived = await takeAll('retry_q')
    expect(arrived.map((m) => [m.id, m.body, m.headers['x-fixed-by'], m.headers['x-msgops-edited-from']])).toEqual([[report.publishedAs, '{"order":"m-1","total":12}', 'ops', 'm-1']])
    expect(await depth(QUEUE)).toBe(0)
    expect(await depth(DLQ)).toBe(0)
  })

  it('bad input: an unknown id, JSON that does not parse, --edit without one --message-id: one line, exit 2, nothing moved', async () => {
    await deadLetter([{id: 'm-1', error: 'x'}, {id: 'm-2', error: 'x'}])
    oneLineError(await runCli(['dlq', 'replay', DLQ, '--message-id', 'nope', '--set-header', 'a=b', '--yes', '--idle', '500ms'], {env}), /no dead letter with message id nope in "order_queue.dlq" \(read 2 of 2\)/)
    const file = join(dir, 'bad.json')
    writeFileSync(file, '{"order": ')
    oneLineError(await runCli(['dlq', 'replay', DLQ, '--message-id', 'm-1', '--body-file', file, '--yes'], {env}), /--body-file .* is not valid JSON/)
    oneLineError(await runCli(['dlq', 'replay', DLQ, '--edit', '--yes'], {env: {...env, EDITOR: 'true'}}), /work on one message/)
    oneLineError(await runCli(['dlq', 'replay', DLQ, '--message-id', 'm-1', '--message-id', 'm-2', '--body-file', file, '--yes'], {env}), /work on one message/)
    expect(await depth(QUEUE)).toBe(0)
    expect((await takeAll(DLQ)).map((m) => m.id)).toEqual(['m-1', 'm-2'])
  })
})
