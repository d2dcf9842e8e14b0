import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'
import {spawnCli, waitFor} from '../reliability/helpers/world.js'

const world = useOutboxWorld('msgops-prune-')

/** Sent rows 10 days old (o-), young sent rows (y-), old pending (p-) and old dead-letter (d-) rows. */
async function fillOutbox(conn: mysql.Connection, old = 300): Promise<void> {
  await conn.query('DELETE FROM outbox')
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('o-', LPAD(seq, 6, '0')), '{"n":1}', 'sent', NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 10 DAY + INTERVAL seq SECOND FROM seq_1_to_${old}`)
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('y-', LPAD(seq, 6, '0')), '{}', 'sent', NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 1 DAY FROM seq_1_to_20`)
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at) SELECT CONCAT('p-', LPAD(seq, 6, '0')), '{}', 'pending', NOW(3) - INTERVAL 10 DAY FROM seq_1_to_20`)
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at, attempts) SELECT CONCAT('d-', LPAD(seq, 6, '0')), '{}', 'dead_letter', NOW(3) - INTERVAL 10 DAY, 10 FROM seq_1_to_20`)
}

async function ids(conn: mysql.Connection, table = 'outbox', column = 'id'): Promise<string[]> {
  const [rows] = await conn.query(`SELECT ${column} AS id FROM ${table} ORDER BY ${column}`)
  return (rows as {id: string}[]).map((r) => String(r.id))
}

function archiveIds(path: string): string[] {
  const raw = readFileSync(path)
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString() : raw.toString()
  return text.split('\n').filter(Boolean).map((l) => String((JSON.parse(l) as {row: {id: string}}).row.id))
}

const expectOneLineError = (run: {code: number | null; stderr: string}, pattern: RegExp) => {
  expect(run.code, run.stderr).toBe(2)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
}

describe('outbox prune', () => {
  let conn: mysql.Connection
  let env: Record<string, string>
  let url: string

  beforeAll(async () => {
    const made = await world.database()
    conn = made.conn
    env = made.env
    url = made.db.url
    await initReferenceSchema(conn, env)
  })

  it('a dry run counts what would go and shows the oldest and newest, deleting nothing', async () => {
    await fillOutbox(conn)
    const run = await runCli(['outbox', 'prune', '--older-than', '7d', '--dry-run', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report.eligible.rows).toBe(300)
    expect(report.basis).toBe('sent_at')
    expect(report.eligible.oldest < report.eligible.newest).toBe(true)
    expect(report.deleted).toBe(0)
    expect((await ids(conn)).length).toBe(360)
  })

  it('only sent rows older than the cut go; pending, dead-letter and young rows stay; the archive holds exactly the deleted rows', async () => {
    await fillOutbox(conn)
    const before = await ids(conn)
    const archive = join(world.tempDir, 'exact.jsonl.gz')
    const run = await runCli(['outbox', 'prune', '--older-than', '7d', '--chunk-size', '16', '--archive', archive, '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    const after = await ids(conn)
    expect(after.filter((id) => id.startsWith('o-'))).toEqual([])
    expect(after.filter((id) => !id.startsWith('o-'))).toEqual(before.filter((id) => !id.startsWith('o-')))
    const archived = archiveIds(archive)
    expect(archived.sort()).toEqual(before.filter((id) => !after.includes(id)).sort())
    expect(report.deleted).toBe(300)
    expect(report.archived).toBe(300)
    expect(report.chunks).toBeGreaterThan(1)
    // The audit record keeps the counts.
    const [audit] = await conn.query("SELECT outcome FROM msgops_audit WHERE command = 'outbox:prune' ORDER BY id DESC LIMIT 1")
    const outcome = (audit as {outcome: unknown}[])[0].outcome
    expect(typeof outcome === 'string' ? JSON.parse(outcome) : outcome).toMatchObject({deleted: 300, archived: 300})
  })

  it('--include-dead-letters takes dead letters older than --dead-older-than, never pending rows', async () => {
    await fillOutbox(conn, 10)
    const run = await runCli(['outbox', 'prune', '--older-than', '7d', '--include-dead-letters', '--dead-older-than', '9d', '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    const left = await ids(conn)
    expect(left.some((id) => id.startsWith('d-') || id.startsWith('o-'))).toBe(false)
    expect(left.filter((id) => id.startsWith('p-'))).toHaveLength(20)
  })

  it('a row requeued or drained during the prune is kept', async () => {
    await fillOutbox(conn, 200)
    // 20 rows a second: the prune takes about 10 s, and the rows at the end of the key order change meanwhile.
    const run = spawnCli(['outbox', 'prune', '--older-than', '7d', '--rate', '20', '--yes', '--json'], env)
    await waitFor('the first chunk', async () => (await ids(conn)).filter((id) => id.startsWith('o-')).length < 200, 30_000)
    await conn.query("UPDATE outbox SET status = 'pending', sent_at = NULL WHERE id BETWEEN 'o-000191' AND 'o-000195'")
    await conn.query("UPDATE outbox SET sent_at = NOW(3) WHERE id BETWEEN 'o-000196' AND 'o-000200'")
    const result = await run.result
    expect(result.code, result.stderr).toBe(0)
    const left = (await ids(conn)).filter((id) => id.startsWith('o-'))
    expect(left).toEqual(['o-000191', 'o-000192', 'o-000193', 'o-000194', 'o-000195', 'o-000196', 'o-000197', 'o-000198', 'o-000199', 'o-000200'])
    expect(JSON.parse(result.stdout).deleted).toBe(190)
  })

  it('SIGTERM finishes the chunk in hand and stops (exit 143), the rest left for the next run', async () => {
    await fillOutbox(conn, 200)
    const run = spawnCli(['outbox', 'prune', '--older-than', '7d', '--rate', '20', '--yes', '--json'], env)
    await waitFor('the first chunk', async () => (await ids(conn)).filter((id) => id.startsWith('o-')).length < 200, 30_000)
    run.child.kill('SIGTERM')
    const result = await run.result
    expect(result.code, result.stderr).toBe(143)
    expect(result.stderr).toMatch(/SIGTERM: finishing the chunk in hand, then stopping/)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({interrupted: true, stoppedBy: 'interrupted'})
    const left = (await ids(conn)).filter((id) => id.startsWith('o-')).length
    expect(left).toBe(200 - report.deleted)
    expect(left).toBeGreaterThan(0)
  })

  it('--limit stops after that many rows (exit 0), and the next run goes on', async () => {
    await fillOutbox(conn, 100)
    const first = await runCli(['outbox', 'prune', '--older-than', '7d', '--limit', '30', '--chunk-size', '20', '--yes', '--json'], {env})
    expect(first.code, first.stderr).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({deleted: 30, stoppedBy: 'limit'})
    expect((await ids(conn)).filter((id) => id.startsWith('o-'))).toHaveLength(70)
  })

  it('pauses while the server is busy (sleeping queries held on several connections, --max-load 2) and says why', async () => {
    await fillOutbox(conn, 50)
    const sleepers = await Promise.all(Array.from({length: 4}, () => mysql.createConnection(url)))
    const held = sleepers.map((c) => c.query('SELECT SLEEP(4)'))
    await waitFor('the sleepers to run', async () => {
      const [rows] = await conn.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(4)'")
      return Number((rows as {n: number}[])[0].n) === 4
    }, 10_000)
    const run = await runCli(['outbox', 'prune', '--older-than', '7d', '--max-load', '2', '--yes', '--json'], {env})
    await Promise.all(held)
    await Promise.all(sleepers.map((c) => c.end()))
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report.pauses.count).toBeGreaterThanOrEqual(1)
    expect(report.pauses.reasons.Threads_running).toBeGreaterThanOrEqual(1)
    expect(report.deleted).toBe(50)
  })

  it('outbox status shows the table size and the prunable rows; --fail-if-prunable exits 1', async () => {
    await fillOutbox(conn, 40)
    const run = await runCli(['outbox', 'status', '--fail-if-prunable', '40', '--json'], {env})
    expect(run.code, run.stderr).toBe(1)
    const report = JSON.parse(run.stdout)
    expect(report.prunable).toMatchObject({rows: 40, retention: '7d', basis: 'sent_at'})
    expect(report.size.dataBytes).toBeGreaterThan(0)
    const ok = await runCli(['outbox', 'status', '--fail-if-prunable', '41'], {env})
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/prunable \(sent, sent_at older than 7d\): 40/)
  })

  it('bad input: zero and negative durations, an unwritable archive (checked before anything is deleted): exit 2, one line', async () => {
    await fillOutbox(conn, 20)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '0s', '--yes'], {env}), /--older-than must be more than zero/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '-3d', '--yes'], {env}), /negative/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d', '--chunk-time', '0ms', '--yes'], {env}), /--chunk-time must be more than zero/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d', '--until', '0s', '--yes'], {env}), /--until must be more than zero/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d', '--sleep-coef', '0', '--yes'], {env}), /--sleep-coef must be more than 0/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d', '--sleep-coef', 'fast', '--yes'], {env}), /--sleep-coef "fast" is not a number/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d', '--sleep-coef', '1', '--sleep', '10ms', '--yes'], {env}), /--sleep|--sleep-coef/)
    expectOneLineError(await runCli(['inbox', 'prune', '--older-than', '30d', '--sleep-coef', '500', '--yes'], {env}), /--sleep-coef 500 is above 100/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d', '--archive', join(world.tempDir, 'no-such-dir', 'a.jsonl'), '--yes'], {env}), /cannot write the archive .*nothing was deleted/)
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d', '--archive', world.tempDir, '--yes'], {env}), /cannot write the archive/)
    expect((await ids(conn)).filter((id) => id.startsWith('o-'))).toHaveLength(20)
    // No terminal and no --yes: refused before anything.
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '7d'], {env}), /no terminal to confirm on/)
  })

  it('a full disk (a 64 KiB tmpfs) stops the prune with exit 2, and every deleted row is in the archive', async () => {
    const mount = join(world.tempDir, 'tiny')
    mkdirSync(mount)
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount])
    } catch (error) {
      throw new Error(`cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]})`)
    }
    try {
      await conn.query('DELETE FROM outbox')
      const payload = JSON.stringify({pad: 'x'.repeat(900)})
      await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('o-', LPAD(seq, 6, '0')), ?, 'sent', NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 10 DAY FROM seq_1_to_400`, [payload])
      const archive = join(mount, 'full.jsonl')
      const run = await runCli(['outbox', 'prune', '--older-than', '7d', '--chunk-size', '20', '--max-chunk-size', '20', '--archive', archive, '--yes'], {env})
      expect(run.code, run.stderr).toBe(2)
      expect(run.stderr).toMatch(/cannot write the archive .*ENOSPC/)
      const left = await ids(conn)
      const archived = archiveIds(archive)
      expect(left.length).toBeGreaterThan(0)
      expect(archived.length + left.length).toBe(400)
      expect(new Set([...archived, ...left]).size).toBe(400)
    } finally {
      execFileSync('umount', [mount])
    }
  })
})

describe('outbox prune on a team schema: integer statuses, no sent-at column, reserved-word names', () => {
  it('deletes by creation time (and says so), keeps pending and dead-letter rows', async () => {
    const {conn, env} = await world.database()
    await conn.query('CREATE TABLE `order` (`key` BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, `body` JSON NOT NULL, `state` INT NOT NULL, `when` DATETIME(3) NOT NULL, KEY (`state`, `when`))')
    await conn.query("INSERT INTO `order` (`body`, `state`, `when`) SELECT '{}', seq % 3, NOW(3) - INTERVAL (CASE WHEN seq <= 90 THEN 10 ELSE 1 END) DAY FROM seq_1_to_120")
    const config = join(world.tempDir, 'team.yaml')
    writeFileSync(config, 'outbox:\n  table: order\n  columns: {id: key, payload: body, status: state, createdAt: when, sentAt: null, aggregateType: null, aggregateId: null, eventType: null, exchange: null, routingKey: null, headers: null, attempts: null, lastError: null, availableAt: null}\n  statuses: {pending: 0, sent: 1, deadLetter: 2}\n  exchange: orders.x\n')
    await runCli(['schema', 'init', '--config', config], {env})
    const run = await runCli(['outbox', 'prune', '--config', config, '--older-than', '7d', '--chunk-size', '7', '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    expect(report.warnings).toEqual([expect.stringMatching(/no sent-at column mapped: sent rows are told old by when/)])
    expect(report.basis).toBe('when')
    expect(report.deleted).toBe(30)
    const [rows] = await conn.query('SELECT `state` AS s, SUM(`when` < NOW() - INTERVAL 7 DAY) AS old, COUNT(*) AS n FROM `order` GROUP BY `state` ORDER BY `state`')
    expect((rows as {s: number; old: string; n: number}[]).map((r) => [r.s, Number(r.old), r.n])).toEqual([[0, 30, 40], [1, 0, 10], [2, 30, 40]])
  })
})

describe('inbox prune', () => {
  let conn: mysql.Connection
  let env: Record<string, string>
  beforeAll(async () => {
    const made = await world.database()
    conn = made.conn
    env = made.env
    await initReferenceSchema(conn, env)
  })

  async function fillInbox(): Promise<void> {
    await conn.query('DELETE FROM inbox')
    await conn.query(`INSERT INTO inbox (message_id, status, received_at, processed_at) SELECT CONCAT('m-', seq), CASE WHEN seq <= 80 THEN 'processed' WHEN seq <= 90 THEN 'failed' ELSE 'received' END, NOW(3) - INTERVAL 20 DAY, NOW(3) - INTERVAL 20 DAY FROM seq_1_to_100`)
    await conn.query(`INSERT INTO inbox (message_id, status, received_at) SELECT CONCAT('n-', seq), 'processed', NOW(3) - INTERVAL 3 DAY FROM seq_1_to_10`)
  }

  it('refuses an age below inbox.dedupeWindow (exit 2, nothing deleted); forced, it says why it is dangerous', async () => {
    await fillInbox()
    const refused = await runCli(['inbox', 'prune', '--older-than', '2d', '--yes'], {env})
    expectOneLineError(refused, /below inbox\.dedupeWindow \(7d\).*processed twice/)
    expect((await ids(conn, 'inbox', 'message_id')).length).toBe(110)
    const forced = await runCli(['inbox', 'prune', '--older-than', '2d', '--force-below-dedupe-window', '--yes', '--json'], {env})
    expect(forced.code, forced.stderr).toBe(0)
    const report = JSON.parse(forced.stdout)
    expect(report.warnings[0]).toMatch(/processed a second time/)
    expect(report.deleted).toBe(90)
  })

  it('processed records only: failed and unprocessed records stay unless asked', async () => {
    await fillInbox()
    const run = await runCli(['inbox', 'prune', '--older-than', '7d', '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout).deleted).toBe(80)
    const [rows] = await conn.query('SELECT status, COUNT(*) AS n FROM inbox GROUP BY status ORDER BY status')
    expect(rows).toEqual([{status: 'failed', n: 10}, {status: 'processed', n: 10}, {status: 'received', n: 10}])
    const all = await runCli(['inbox', 'prune', '--older-than', '7d', '--include-failed', '--include-unprocessed', '--yes', '--json'], {env})
    expect(JSON.parse(all.stdout).deleted).toBe(20)
    expect((await ids(conn, 'inbox', 'message_id')).every((id) => id.startsWith('n-'))).toBe(true)
  })
})

describe('prune --drop-partitions on a day-partitioned table (schema init --partitioned)', () => {
  it('drops old clean partitions at once, refuses one holding a pending row (exit 1), adds partitions ahead', async () => {
    const {conn, env} = await world.database()
    const init = await runCli(['schema', 'init', '--partitioned'], {env})
    expect(init.code, init.stderr).toBe(0)
    // Days before today: split the partition of everything older into one per day, as a table running for a while has.
    const [[{today}]] = (await conn.query("SELECT DATE_FORMAT(CURDATE(), '%Y-%m-%d') AS today")) as unknown as [{today: string}[]]
    const day = (n: number) => new Date(Date.parse(`${today}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)
    const [parts] = await conn.query("SELECT PARTITION_NAME AS p FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outbox' ORDER BY PARTITION_ORDINAL_POSITION")
    const first = (parts as {p: string}[])[0].p
    await conn.query(`ALTER TABLE outbox REORGANIZE PARTITION \`${first}\` INTO (PARTITION pold VALUES LESS THAN ('${day(-4)}'), PARTITION pa VALUES LESS THAN ('${day(-3)}'), PARTITION pb VALUES LESS THAN ('${day(-2)}'), PARTITION pc VALUES LESS THAN ('${today}'))`)
    for (const [prefix, daysAgo] of [['a', 4], ['b', 3], ['c', 1]] as const)
      await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('${prefix}-', seq), '{}', 'sent', CURDATE() - INTERVAL ${daysAgo} DAY + INTERVAL 1 HOUR, CURDATE() - INTERVAL ${daysAgo} DAY + INTERVAL 2 HOUR FROM seq_1_to_50`)
    await conn.query("INSERT INTO outbox (id, payload, status, created_at) VALUES ('b-pending', '{}', 'pending', CURDATE() - INTERVAL 3 DAY + INTERVAL 1 HOUR)")
    await conn.query("INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('t-', seq), '{}', 'sent', NOW(3), NOW(3) FROM seq_1_to_10")
    const run = await runCli(['outbox', 'prune', '--older-than', '2d', '--drop-partitions', '--add-partitions', '10d', '--yes', '--json'], {env})
    expect(run.code, run.stderr).toBe(1)
    const report = JSON.parse(run.stdout)
    expect(report.dropped).toEqual(['pold', 'pa'])
    expect(report.decisions.find((d: {name: string}) => d.name === 'pb')).toMatchObject({action: 'keep', why: 'rows must stay', mustStay: 1})
    const [left] = await conn.query('SELECT LEFT(id, 1) AS k, COUNT(*) AS n FROM outbox GROUP BY k ORDER BY k')
    expect(left).toEqual([{k: 'b', n: 51}, {k: 'c', n: 50}, {k: 't', n: 10}])
    const [after] = await conn.query("SELECT PARTITION_NAME AS p FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outbox' ORDER BY PARTITION_ORDINAL_POSITION")
    const names = (after as {p: string}[]).map((r) => r.p)
    expect(names).toContain(`p${day(10).replaceAll('-', '')}`)
    expect(names.at(-1)).toBe('pmax')
    // Once the pending row is sent, its partition goes too.
    await conn.query("UPDATE outbox SET status = 'sent', sent_at = NOW(3) WHERE id = 'b-pending'")
    const again = await runCli(['outbox', 'prune', '--older-than', '2d', '--drop-partitions', '--yes', '--json'], {env})
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).dropped).toEqual(['pb'])
    // An unpartitioned table: one clear line.
    const {env: plainEnv} = await world.database()
    await runCli(['schema', 'init'], {env: plainEnv})
    expectOneLineError(await runCli(['outbox', 'prune', '--older-than', '2d', '--drop-partitions', '--yes'], {env: plainEnv}), /is not partitioned/)
  })
})

afterAll(() => {
  // The tmpfs is unmounted by its test; a leftover would keep the temp folder from being removed.
  const mount = join(world.tempDir, 'tiny')
  try {
    if (existsSync(mount)) execFileSync('umount', [mount], {stdio: 'ignore'})
  } catch {
    // Not mounted: the test unmounted it.
  }
})
