import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type mysql from 'mysql2/promise'
import {beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {fingerprint} from '../../src/core/fingerprint.js'
import {failureIndex, scanBatchSql} from '../../src/core/outbox/failures.js'
import {resolveOutbox} from '../../src/core/outbox/table.js'
import {runCli} from '../helpers/env.js'
import {spawnCli} from '../reliability/helpers/world.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'

const world = useOutboxWorld('msgops-failures-')

/** Three kinds of failure mixed over 10,000 rows, plus sent rows with an old error and new pending rows (neither a failure). */
const A = {n: 5000, eventType: 'order.created', error: (i: number) => `TimeoutException: calling payment for order ${i} at 10.0.${i % 250}.7:8080 after ${1000 + i} ms`}
const B = {n: 3000, eventType: 'order.paid', error: (i: number) => `NullReferenceException in OrderHandler line 88 (order ord_${(i * 7919).toString(16)}, trace ${crypto.randomUUID()})`}
const C = {n: 1500, eventType: 'order.created', error: (i: number) => `returned: NO_ROUTE "order.created.v2" at 2026-12-01T08:${String(i % 60).padStart(2, '0')}:00Z`}
const SENT = 400
const NEW = 100

const fpOf = (kind: {eventType: string; error: (i: number) => string}) => fingerprint({error: kind.error(0), subject: kind.eventType})

/** Row i of a kind: created i minutes ago (so --since 60m takes the first 60 of each kind); B's first 1000 are failed pending rows. */
async function fill(conn: mysql.Connection): Promise<void> {
  await conn.query('DELETE FROM outbox')
  const rows: unknown[][] = []
  const add = (prefix: string, kind: typeof A, status: (i: number) => string, attempts: (i: number) => number) => {
    for (let i = 0; i < kind.n; i++) rows.push([`${prefix}-${String(i).padStart(5, '0')}`, kind.eventType, 'orders.x', kind.eventType, JSON.stringify({i}), status(i), attempts(i), kind.error(i), i])
  }
  add('a', A, () => 'dead_letter', () => 10)
  add('b', B, (i) => (i < 1000 ? 'pending' : 'dead_letter'), (i) => (i < 1000 ? 3 : 10))
  add('c', C, () => 'dead_letter', () => 10)
  add('s', {n: SENT, eventType: 'order.created', error: A.error}, () => 'sent', () => 2)
  add('n', {n: NEW, eventType: 'order.created', error: () => ''}, () => 'pending', () => 0)
  for (let at = 0; at < rows.length; at += 1000)
    await conn.query(
      'INSERT INTO outbox (id, event_type, exchange, routing_key, payload, status, attempts, last_error, created_at) VALUES ' +
        rows.slice(at, at + 1000).map(() => '(?, ?, ?, ?, ?, ?, ?, NULLIF(?, \'\'), NOW(3) - INTERVAL ? MINUTE)').join(', '),
      rows.slice(at, at + 1000).flat(),
    )
}

async function statuses(conn: mysql.Connection, prefix: string): Promise<Record<string, number>> {
  const [rows] = await conn.query('SELECT status, COUNT(*) AS n FROM outbox WHERE id LIKE ? GROUP BY status', [`${prefix}-%`])
  return Object.fromEntries((rows as {status: string; n: number}[]).map((r) => [r.status, Number(r.n)]))
}

function oneLineError(run: {code: number | null; stderr: string}, pattern: RegExp, code = 2): void {
  expect(run.code, run.stderr).toBe(code)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
}

describe('outbox failures and group actions on the reference schema', () => {
  let conn: mysql.Connection
  let env: Record<string, string>

  beforeAll(async () => {
    const own = await world.database()
    conn = own.conn
    env = own.env
    await initReferenceSchema(conn, env)
  })

  beforeEach(async () => fill(conn), 120_000)

  it('groups equal what was made: three groups, counts, kinds, times, samples; sent and new rows are not read', async () => {
    const run = await runCli(['outbox', 'failures', '--json'], {env})
    expect(run.code, run.stderr).toBe(1)
    const report = JSON.parse(run.stdout)
    expect(report.basis).toBe('error and event type')
    expect(report.total).toEqual({failed: 1000, deadLetter: 8500})
    expect(report.scanned).toBe(9500)
    expect(report.groups.map((g: {fingerprint: string; count: number; failed: number; deadLetter: number; eventTypes: string[]}) => [g.fingerprint, g.count, g.failed, g.deadLetter, g.eventTypes])).toEqual([
      [fpOf(A), 5000, 0, 5000, ['order.created']],
      [fpOf(B), 3000, 1000, 2000, ['order.paid']],
      [fpOf(C), 1500, 0, 1500, ['order.created']],
    ])
    const a = report.groups[0]
    expect(a.pattern).toBe('TimeoutException: calling payment for order <n> at <host> after <n> ms')
    expect(a.sampleIds).toHaveLength(3)
    expect(a.sampleIds.every((id: string) => id.startsWith('a-'))).toBe(true)
    expect(a.sampleError).toMatch(/^TimeoutException: calling payment for order \d+/)
    // Row a-04999 was created 4999 minutes ago, a-00000 now.
    expect(Date.parse(a.lastSeen) - Date.parse(a.firstSeen)).toBeGreaterThan(4998 * 60_000)
    expect(Date.parse(a.lastSeen) - Date.parse(a.firstSeen)).toBeLessThan(5000 * 60_000)

    const text = await runCli(['outbox', 'failures'], {env: {...env, COLUMNS: '200'}})
    expect(text.code, text.stderr).toBe(1)
    expect(text.stdout).toMatch(/9,500 rows in 3 failure groups \(failed 1,000 · dead-letter 8,500\); grouped by error and event type/)
    for (const kind of [A, B, C]) expect(text.stdout).toContain(fpOf(kind))
    expect(text.stdout).toContain(`outbox requeue --group ${fpOf(A)} --dry-run`)
  })

  it('filters: --status, --event-type, --since/--until, --group; an unknown group says so (exit 1), a bad one is refused (exit 2)', async () => {
    const json = async (args: string[]) => {
      const run = await runCli(['outbox', 'failures', ...args, '--json'], {env})
      expect(run.code, run.stderr).toBe(1)
      return JSON.parse(run.stdout) as {groups: {fingerprint: string; count: number}[]; total: {failed: number; deadLetter: number}}
    }
    const counts = (r: {groups: {fingerprint: string; count: number}[]}) => Object.fromEntries(r.groups.map((g) => [g.fingerprint, g.count]))
    expect(counts(await json(['--status', 'failed']))).toEqual({[fpOf(B)]: 1000})
    expect(counts(await json(['--status', 'dead-letter']))).toEqual({[fpOf(A)]: 5000, [fpOf(B)]: 2000, [fpOf(C)]: 1500})
    expect(counts(await json(['--event-type', 'order.paid']))).toEqual({[fpOf(B)]: 3000})
    // Rows 0..59 of each kind were created in the last hour (row 60 exactly 60 minutes ago, just outside).
    expect(counts(await json(['--since', '59m30s']))).toEqual({[fpOf(A)]: 60, [fpOf(B)]: 60, [fpOf(C)]: 60})
    expect(counts(await json(['--since', '120m30s', '--until', '59m30s']))).toEqual({[fpOf(A)]: 61, [fpOf(B)]: 61, [fpOf(C)]: 61})
    expect(counts(await json(['--group', fpOf(C)]))).toEqual({[fpOf(C)]: 1500})

    const unknown = await runCli(['outbox', 'failures', '--group', '00000000'], {env})
    oneLineError(unknown, /no failed or dead-letter row is in group 00000000/, 1)
    oneLineError(await runCli(['outbox', 'failures', '--group', 'zz'], {env}), /--group "zz" is not a fingerprint/)
    oneLineError(await runCli(['outbox', 'failures', '--status', 'sent'], {env}), /--status "sent" is not a kind of failure/)
    oneLineError(await runCli(['outbox', 'failures', '--since', 'yesterday'], {env}), /--since/)
  })

  it('reads on the (status, created_at) index (found by its columns, forced) in its order: a range after the cursor, no filesort, and a batch reads only its own rows', async () => {
    const sql = {query: async (q: string, p?: unknown[]) => (await conn.query(q, p))[0] as never, execute: async () => ({affectedRows: 0})}
    const table = await resolveOutbox(sql, DEFAULTS)
    const index = await failureIndex(sql, table)
    expect(index).toBe('idx_outbox_status_created')
    for (const kind of ['failed', 'dead-letter'] as const) {
      const status = kind === 'failed' ? 'pending' : 'dead_letter'
      // A cursor in the middle of the kind's range, as the scan's next batch has.
      const [[mid]] = (await conn.query("SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS at, id FROM outbox WHERE status = ? ORDER BY created_at, id LIMIT 1 OFFSET 500", [status])) as unknown as [{at: string; id: string}[]]
      for (const cursor of [undefined, mid]) {
        const q = scanBatchSql(table, kind, {kinds: [kind]}, cursor, 200, index)!
        const [plan] = await conn.query(`EXPLAIN ${q.sql}`, q.params)
        const [row] = plan as {key: string; type: string; key_len: string; Extra: string | null}[]
        expect(row.key, JSON.stringify(row)).toBe('idx_outbox_status_created')
        expect(row.Extra ?? '', JSON.stringify(row)).not.toMatch(/filesort|temporary/)
        if (!cursor) continue
        // status VARCHAR(32) utf8mb4 is 130 bytes of key; a range that also bounds created_at is longer.
        expect(row.type, JSON.stringify(row)).toBe('range')
        expect(Number(row.key_len), JSON.stringify(row)).toBeGreaterThan(130)
        await conn.query('FLUSH STATUS')
        const [got] = await conn.query(q.sql, q.params)
        const [counters] = await conn.query("SHOW SESSION STATUS WHERE Variable_name IN ('Handler_read_next', 'Handler_icp_attempts')")
        const read = Object.fromEntries((counters as {Variable_name: string; Value: string}[]).map((c) => [c.Variable_name, Number(c.Value)]))
        expect((got as unknown[]).length).toBe(200)
        // The index entries before the cursor are not walked again: about the batch's own 200 entries are read.
        expect(read.Handler_read_next, JSON.stringify(read)).toBeLessThan(200 + 50)
        expect(read.Handler_icp_attempts ?? 0, JSON.stringify(read)).toBeLessThan(kind === 'failed' ? 200 + 150 : 200 + 50)
      }
    }
  })

  it('outbox status shows the top 3 groups', async () => {
    const run = await runCli(['outbox', 'status', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout).topFailures.groups.map((g: {fingerprint: string; count: number}) => [g.fingerprint, g.count])).toEqual([[fpOf(A), 5000], [fpOf(B), 3000], [fpOf(C), 1500]])
    const text = await runCli(['outbox', 'status'], {env: {...env, COLUMNS: '200'}})
    expect(text.stdout).toMatch(new RegExp(`top failure groups.*\\n\\s+${fpOf(A)}\\s+5,000\\s+order.created\\s+TimeoutException`))
  })

  it('requeue --group moves exactly its group, with the count in the dry run and the audit; unknown and malformed groups are refused', async () => {
    const dry = await runCli(['outbox', 'requeue', '--group', fpOf(B), '--dry-run', '--json'], {env})
    expect(dry.code, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout)).toMatchObject({group: fpOf(B), matching: 2000, requeued: 0, dryRun: true})
    const run = await runCli(['outbox', 'requeue', '--group', fpOf(B), '--yes', '--batch-size', '300', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({group: fpOf(B), matching: 2000, requeued: 2000})
    expect(await statuses(conn, 'b')).toEqual({pending: 3000})
    const [reset] = await conn.query("SELECT COUNT(*) AS n FROM outbox WHERE id LIKE 'b-%' AND id >= 'b-01000' AND attempts = 0")
    expect(Number((reset as {n: number}[])[0].n)).toBe(2000)
    expect(await statuses(conn, 'a')).toEqual({dead_letter: 5000})
    expect(await statuses(conn, 'c')).toEqual({dead_letter: 1500})
    const [audit] = await conn.query("SELECT outcome FROM msgops_audit WHERE command = 'outbox:requeue' ORDER BY id DESC LIMIT 1")
    const outcome = (audit as {outcome: unknown}[])[0].outcome
    expect(typeof outcome === 'string' ? JSON.parse(outcome) : outcome).toMatchObject({group: fpOf(B), matching: 2000, requeued: 2000})

    oneLineError(await runCli(['outbox', 'requeue', '--group', fpOf(B), '--yes'], {env}), new RegExp(`no dead-letter row is in failure group ${fpOf(B)}`))
    oneLineError(await runCli(['outbox', 'requeue', '--group', 'nothex!!', '--yes'], {env}), /is not a fingerprint/)
    oneLineError(await runCli(['outbox', 'requeue', '--group', fpOf(A), '--all', '--yes'], {env}), /--all/)
  })

  it('requeue --group --since/--until moves only the window', async () => {
    const run = await runCli(['outbox', 'requeue', '--group', fpOf(A), '--since', '120m30s', '--until', '59m30s', '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({matching: 61, requeued: 61})
    const [rows] = await conn.query("SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM outbox WHERE id LIKE 'a-%' AND status = 'pending'")
    expect((rows as {lo: string; hi: string; n: number}[])[0]).toMatchObject({lo: 'a-00060', hi: 'a-00120', n: 61})
  })

  it('requeue --group killed with SIGKILL mid-run: running it again does the rest, and nothing outside the group moved', async () => {
    const run = spawnCli(['outbox', 'requeue', '--group', fpOf(A), '--yes', '--batch-size', '20'], env)
    for (let i = 0; i < 600 && (await statuses(conn, 'a')).pending === undefined; i++) await new Promise((r) => setTimeout(r, 20))
    run.kill9()
    await run.result
    const between = await statuses(conn, 'a')
    const again = await runCli(['outbox', 'requeue', '--group', fpOf(A), '--yes', '--json'], {env})
    // Killed before the end (the usual case): the rest is done now; finished anyway: nothing is left, which is said in one line.
    // The killed run's last UPDATE may still commit on the server after the kill: between is an upper bound.
    if (between.dead_letter) {
      expect(again.code, again.stderr).toBe(0)
      expect(JSON.parse(again.stdout).requeued).toBeGreaterThan(0)
      expect(JSON.parse(again.stdout).requeued).toBeLessThanOrEqual(between.dead_letter)
    } else oneLineError(again, /no dead-letter row is in failure group/)
    expect(await statuses(conn, 'a')).toEqual({pending: 5000})
    expect(await statuses(conn, 'b')).toEqual({pending: 1000, dead_letter: 2000})
    expect(await statuses(conn, 'c')).toEqual({dead_letter: 1500})
  })

  it('discard --group --archive: the archive holds exactly the deleted rows; an unwritable archive is refused before anything is deleted', async () => {
    const [before] = await conn.query("SELECT id, payload FROM outbox WHERE id LIKE 'c-%' ORDER BY id")
    const path = join(world.tempDir, `discard-${Date.now()}.jsonl`)
    writeFileSync(path, '')

    oneLineError(await runCli(['outbox', 'discard', '--group', fpOf(C), '--archive', '/nonexistent-dir/x.jsonl', '--yes'], {env}), /cannot create archive file \/nonexistent-dir\/x.jsonl/)
    oneLineError(await runCli(['outbox', 'discard', '--group', fpOf(C), '--yes'], {env}), /say where they are kept.*--archive/)
    expect(await statuses(conn, 'c')).toEqual({dead_letter: 1500})

    const dry = await runCli(['outbox', 'discard', '--group', fpOf(C), '--archive', path, '--dry-run', '--json'], {env})
    expect(JSON.parse(dry.stdout)).toMatchObject({matching: 1500, discarded: 0})
    expect(readFileSync(path, 'utf8')).toBe('')

    const run = await runCli(['outbox', 'discard', '--group', fpOf(C), '--archive', path, '--yes', '--batch-size', '400', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({matching: 1500, discarded: 1500, archived: 1500, archive: path})
    expect(await statuses(conn, 'c')).toEqual({})
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.map((l) => l.messageId).sort()).toEqual((before as {id: string}[]).map((r) => r.id))
    expect(lines[0]).toMatchObject({table: 'outbox', row: {status: 'dead_letter', event_type: 'order.created'}})
    expect(lines[0].row.last_error).toMatch(/^returned: NO_ROUTE/)
    expect(await statuses(conn, 'a')).toEqual({dead_letter: 5000})
    expect(await statuses(conn, 'b')).toEqual({pending: 1000, dead_letter: 2000})
    oneLineError(await runCli(['outbox', 'discard', '--group', fpOf(C), '--archive', path, '--yes'], {env}), /no dead-letter row is in failure group/)
  })
})

describe('outbox failures on an integer-status mapping with no last error column', () => {
  it('groups by event type only, and says so', async () => {
    const {conn, env} = await world.database()
    await conn.query('CREATE TABLE int_mq (msg_id VARCHAR(64) NOT NULL PRIMARY KEY, body TEXT NOT NULL, st INT NOT NULL, kind VARCHAR(64) NULL, tries INT NOT NULL DEFAULT 0, added DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), KEY idx_st_added (st, added))')
    const rows: unknown[][] = []
    for (let i = 0; i < 300; i++) rows.push([`m${i}`, '{}', i % 3 === 0 ? 1 : 2, i % 2 === 0 ? 'order.created' : 'order.paid', i % 3 === 0 ? 0 : 4])
    await conn.query('INSERT INTO int_mq (msg_id, body, st, kind, tries) VALUES ?', [rows])
    const path = join(world.tempDir, 'int.yaml')
    writeFileSync(path, `outbox:
  table: int_mq
  columns: {id: msg_id, payload: body, status: st, eventType: kind, attempts: tries, createdAt: added}
  statuses: {pending: 0, sent: 1, deadLetter: 2}
  exchange: orders.x
`)
    const run = await runCli(['outbox', 'failures', '--config', path, '--json'], {env})
    expect(run.code, run.stderr).toBe(1)
    const report = JSON.parse(run.stdout)
    expect(report.basis).toBe('event type only')
    expect(report.notes).toEqual([expect.stringMatching(/no last error column: rows are grouped by event type only/)])
    expect(report.groups.map((g: {fingerprint: string; count: number}) => [g.fingerprint, g.count])).toEqual([
      [fingerprint({subject: 'order.created'}), 100],
      [fingerprint({subject: 'order.paid'}), 100],
    ])
    const text = await runCli(['outbox', 'failures', '--config', path], {env})
    expect(text.stdout).toMatch(/grouped by event type only/)
    const requeue = await runCli(['outbox', 'requeue', '--config', path, '--group', fingerprint({subject: 'order.paid'}), '--yes', '--json'], {env})
    expect(requeue.code, requeue.stderr).toBe(0)
    expect(JSON.parse(requeue.stdout)).toMatchObject({requeued: 100})
    const [left] = await conn.query('SELECT kind, st, COUNT(*) AS n FROM int_mq WHERE st <> 1 GROUP BY kind, st ORDER BY kind, st')
    expect(left).toEqual([{kind: 'order.created', st: 2, n: 100}, {kind: 'order.paid', st: 0, n: 100}])
  })
})
