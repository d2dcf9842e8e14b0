import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type mysql from 'mysql2/promise'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {useOutboxWorld} from '../helpers/outbox.js'

// The simplest local message table: id, payload, status (integers), nothing else — no time, no attempts, no exchange.
const world = useOutboxWorld('msgops-notime-')
const PENDING = 0
const SENT = 1
const DEAD = 2

function json(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout) as Record<string, unknown>
}

function oneLineError(run: {code: number | null; stderr: string}, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
}

describe('outbox commands on a table with no time column (id, payload, status)', () => {
  let conn: mysql.Connection
  let env: Record<string, string>
  let args: string[]
  const cli = (command: string[]) => runCli([...command, ...args], {env})

  async function rows(): Promise<Map<string, number>> {
    const [found] = await conn.query('SELECT id, status FROM plain_mq')
    return new Map((found as {id: string; status: number}[]).map((r) => [r.id, r.status]))
  }

  async function fill(entries: [string, number][]): Promise<void> {
    await conn.query('DELETE FROM plain_mq')
    for (const [id, status] of entries) await conn.query('INSERT INTO plain_mq (id, payload, status) VALUES (?, ?, ?)', [id, JSON.stringify({orderId: id}), status])
  }

  async function takeAll(): Promise<string[]> {
    const ids: string[] = []
    for (;;) {
      const m = await world.channel.get('orders.q', {noAck: true})
      if (m === false) return ids.sort()
      ids.push(String(m.properties.messageId))
    }
  }

  beforeAll(async () => {
    const own = await world.database()
    conn = own.conn
    env = own.env
    await conn.query('CREATE TABLE plain_mq (id VARCHAR(64) NOT NULL PRIMARY KEY, payload TEXT NOT NULL, status INT NOT NULL DEFAULT 0, KEY idx_status (status))')
    await conn.query('CREATE TABLE plain_inbox (message_id VARCHAR(64) NOT NULL PRIMARY KEY, status VARCHAR(16) NOT NULL, received_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))')
    const path = join(world.tempDir, 'plain.yaml')
    // createdAt: null says so explicitly; the other columns keep their reference names, which this table lacks.
    writeFileSync(path, `outbox:
  table: plain_mq
  columns: {id: id, payload: payload, status: status, createdAt: null}
  statuses: {pending: ${PENDING}, sent: ${SENT}, deadLetter: ${DEAD}}
  exchange: orders.x
  routingKey: order.created
inbox:
  table: plain_inbox
  columns: {messageId: message_id, status: status, receivedAt: received_at}
`)
    args = ['--config', path]
  })

  it('status counts per status and says it has no ages; an age threshold is refused', async () => {
    await fill([['a', PENDING], ['b', PENDING], ['c', SENT], ['d', DEAD]])
    const run = await cli(['outbox', 'status', '--json'])
    expect(run.code, run.stderr).toBe(0)
    const report = json(run.stdout)
    expect(report).toMatchObject({counts: {pending: 2, sent: 1, 'dead-letter': 1}, total: 4, oldestPendingAgeMs: null, stuck: null, attempts: null})
    expect(report.notes).toEqual([expect.stringMatching(/no time column/)])
    const text = await cli(['outbox', 'status'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/stuck: unknown \(no time column\)/)
    expect(text.stdout).toMatch(/pending \(0\)\s.*2/)
    oneLineError(await cli(['outbox', 'status', '--fail-if-pending-older-than', '10m']), /no time column, so --fail-if-pending-older-than cannot apply.*outbox\.columns\.createdAt/)
    expect((await cli(['outbox', 'status', '--fail-if-dead-letters', '1'])).code).toBe(1)
  })

  it('list and show work without ages; an age filter is refused with one line; --exchange filters by the configured exchange', async () => {
    await fill([['a', PENDING], ['b', DEAD]])
    const list = await cli(['outbox', 'list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(json(list.stdout).rows).toEqual([
      expect.objectContaining({id: 'a', status: 'pending', ageMs: null, exchange: 'orders.x'}),
      expect.objectContaining({id: 'b', status: 'dead-letter', ageMs: null}),
    ])
    const table = await cli(['outbox', 'list', '--status', 'dead-letter'])
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/\bb\b.*dead-letter/)
    expect(table.stdout).not.toMatch(/\ba\b.*pending/)
    oneLineError(await cli(['outbox', 'list', '--older-than', '1m']), /no time column, so --older-than cannot apply/)
    oneLineError(await cli(['outbox', 'list', '--newer-than', '1m']), /no time column, so --newer-than cannot apply/)
    expect(json((await cli(['outbox', 'list', '--exchange', 'orders.x', '--json'])).stdout).rows).toHaveLength(2)
    expect(json((await cli(['outbox', 'list', '--exchange', 'other.x', '--json'])).stdout).rows).toEqual([])

    const show = await cli(['outbox', 'show', 'a'])
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain('"orderId": "a"')
    expect(show.stdout).not.toMatch(/^age\s/m)
    expect(json((await cli(['outbox', 'show', 'a', '--json'])).stdout)).toMatchObject({id: 'a', status: 'pending', ageMs: null})
  })

  it('drain takes every pending row and says why; --older-than is refused; a drain with nothing to do says so', async () => {
    await fill([['p1', PENDING], ['p2', PENDING], ['p3', PENDING], ['s1', SENT], ['d1', DEAD]])
    await takeAll()
    oneLineError(await cli(['outbox', 'drain', '--older-than', '1m', '--yes']), /no time column, so --older-than cannot apply.*leave out --older-than/)
    expect((await rows()).get('p1')).toBe(PENDING)

    const dry = await cli(['outbox', 'drain', '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(json(dry.stdout)).toMatchObject({dryRun: true, eligible: 3, sample: [{id: 'p1', ageMs: null}, {id: 'p2'}, {id: 'p3'}]})

    const run = await cli(['outbox', 'drain', '--yes'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/note: the outbox table "plain_mq" has no time column: every pending row is eligible.*--older-than 30s does not apply/)
    expect(await takeAll()).toEqual(['p1', 'p2', 'p3'])
    expect([...(await rows()).entries()].sort()).toEqual([['d1', DEAD], ['p1', SENT], ['p2', SENT], ['p3', SENT], ['s1', SENT]])

    const again = await cli(['outbox', 'drain', '--yes', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(json(again.stdout)).toMatchObject({eligible: 0, published: 0, idle: {reason: 'no pending rows', pending: 0}})
    const text = await cli(['outbox', 'drain', '--yes'])
    expect(text.stdout).toMatch(/nothing to publish: no pending rows/)
  })

  it('requeue brings dead letters back; --older-than is refused', async () => {
    await fill([['d1', DEAD], ['d2', DEAD], ['p1', PENDING]])
    oneLineError(await cli(['outbox', 'requeue', '--older-than', '1h', '--yes']), /no time column, so --older-than cannot apply/)
    const dry = await cli(['outbox', 'requeue', '--all', '--dry-run', '--json'])
    expect(json(dry.stdout)).toMatchObject({matching: 2, sample: [{id: 'd1', ageMs: null}, {id: 'd2', ageMs: null}]})
    const run = await cli(['outbox', 'requeue', '--all', '--yes', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(json(run.stdout)).toMatchObject({requeued: 2})
    expect([...(await rows()).values()]).toEqual([PENDING, PENDING, PENDING])
  })

  it('reconcile runs the checks that need no time and says why it skipped the others', async () => {
    await fill([['d1', DEAD], ['p1', PENDING], ['s1', SENT]])
    await conn.query('DELETE FROM plain_inbox')
    await conn.query("INSERT INTO plain_inbox (message_id, status, received_at) VALUES ('ghost', 'processed', NOW(3) - INTERVAL 1 HOUR)")
    const checks = ['message_stuck', 'message_dead', 'sent_not_consumed', 'orphan_consumed'].flatMap((c) => ['--check', c])
    const run = await cli(['reconcile', ...checks, '--json'])
    expect(run.code, run.stderr).toBe(1)
    const report = json(run.stdout) as {checks: Record<string, {count: number; skipped?: string; samples: {id: string}[]}>}
    expect(report.checks.message_stuck).toMatchObject({count: 0, skipped: expect.stringMatching(/no time column.*grace period.*outbox\.columns\.createdAt/)})
    expect(report.checks.sent_not_consumed).toMatchObject({count: 0, skipped: expect.stringMatching(/no time column/)})
    expect(report.checks.message_dead).toMatchObject({count: 1, samples: [expect.objectContaining({id: 'd1'})]})
    expect(report.checks.orphan_consumed).toMatchObject({count: 1, samples: [expect.objectContaining({id: 'ghost'})]})
  })
})

describe('outbox commands on the reference names with the time column missing', () => {
  it('status and drain treat the missing created_at as no time column', async () => {
    const {conn, env} = await world.database()
    // Only the reference names id, payload, status: the default mapping's created_at is simply not there.
    await conn.query("CREATE TABLE outbox (id VARCHAR(64) NOT NULL PRIMARY KEY, payload JSON NOT NULL, status VARCHAR(16) NOT NULL DEFAULT 'pending')")
    await conn.query(`INSERT INTO outbox (id, payload, status) VALUES ('r1', '{"a":1}', 'pending'), ('r2', '{"a":2}', 'dead_letter')`)
    const status = await runCli(['outbox', 'status', '--json'], {env})
    expect(status.code, status.stderr).toBe(0)
    expect(json(status.stdout)).toMatchObject({counts: {pending: 1, 'dead-letter': 1}, stuck: null})
    const path = join(world.tempDir, 'ref-exchange.yaml')
    writeFileSync(path, 'outbox:\n  exchange: orders.x\n  routingKey: order.created\n')
    const drain = await runCli(['outbox', 'drain', '--yes', '--json', '--config', path], {env})
    expect(drain.code, drain.stderr).toBe(0)
    expect(json(drain.stdout)).toMatchObject({published: 1, notes: expect.arrayContaining([expect.stringMatching(/no time column/)])})
    const m = await world.channel.get('orders.q', {noAck: true})
    expect(m === false ? null : m.properties.messageId).toBe('r1')
  })
})
