/**
 * `npm run bench -- failures [--rows 1000000] [--groups 50] [--requeue 500000]`
 * On the reference schema, N dead-letter rows in G failure groups (each error with its own order id, host and time):
 *  1. the single GROUP BY query outbox failures needs at minimum (the raw texts grouped by the server, rows to the
 *     client) against `msgops outbox failures --json` (the CLI, process start included) and the core call in this process;
 *     target: outbox failures ≤ 2× the GROUP BY;
 *  2. R of those rows made one group, then put back to pending by a raw keyset loop (ids of the group by SQL,
 *     UPDATE by primary key in chunks of 1000) against `msgops outbox requeue --group FP --yes` (its counting pass
 *     included); target: ≥ 0.8× the raw loop's rate.
 */
import mysql from 'mysql2/promise'

import {MysqlAdapter} from '../src/adapters/mysql.js'
import {DEFAULTS} from '../src/config/defaults.js'
import {fingerprint} from '../src/core/fingerprint.js'
import {outboxFailures} from '../src/core/outbox/failures.js'
import {cliEnv, createTestDatabase, createTestRedis, runCli} from '../test/helpers/env.js'

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`)
  const value = at >= 0 ? Number(args[at + 1]) : fallback
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`)
  return value
}

/** Two letters per group (aa, ba, …): letters, because a digit in the text would be a varying part of it. */
const kind = (g: string) => `CONCAT(CHAR(97 + ${g} % 26), CHAR(97 + ${g} DIV 26))`

async function timed<T>(work: () => Promise<T>): Promise<{value: T; s: number}> {
  const started = performance.now()
  const value = await work()
  return {value, s: (performance.now() - started) / 1000}
}

export async function main(args: string[]): Promise<void> {
  const rows = option(args, 'rows', 1_000_000)
  const groups = option(args, 'groups', 50)
  const requeue = Math.min(option(args, 'requeue', 500_000), rows)
  const [db, redis] = await Promise.all([createTestDatabase('msgops_bench'), createTestRedis('msgops_bench')])
  const env = cliEnv({db, redis})
  const conn = await mysql.createConnection(db.url)
  try {
    const init = await runCli(['schema', 'init'], {env})
    if (init.code !== 0) throw new Error(init.stderr)
    const fill = await timed(async () => {
      for (let from = 1; from <= rows; from += 100_000) {
        const to = Math.min(rows, from + 99_999)
        await conn.query(
          `INSERT INTO outbox (id, event_type, exchange, routing_key, payload, status, attempts, last_error, created_at)
           SELECT CONCAT('r', LPAD(seq, 9, '0')), CONCAT('order.', ${kind(`(seq % ${groups})`)}), 'orders.x', 'order.created', '{"orderId": 1}', 'dead_letter', 10,
                  CONCAT('TimeoutException in Handler', ${kind(`(seq % ${groups})`)}, ': order ', seq, ' at 10.0.', seq % 250, '.7:8080 after ', seq % 3000, ' ms'),
                  NOW(3) - INTERVAL seq SECOND
           FROM seq_${from}_to_${to}`,
        )
      }
    })
    await conn.query('ANALYZE TABLE outbox')
    process.stdout.write(`${rows.toLocaleString('en-US')} dead-letter rows in ${groups} groups (filled in ${fill.s.toFixed(1)} s)\n`)

    // 1. outbox failures against the one GROUP BY it needs at minimum.
    const groupBy = await timed(async () => {
      const [r] = await conn.query(`SELECT event_type, LEFT(last_error, 4096) AS e, COUNT(*) AS n, MIN(created_at) AS lo, MAX(created_at) AS hi FROM outbox WHERE status = 'dead_letter' GROUP BY event_type, e`)
      return (r as unknown[]).length
    })
    const sql = await MysqlAdapter.connect(db.url, 10_000)
    const core = await timed(() => outboxFailures(sql, {config: DEFAULTS}))
    await sql.close()
    if (core.value.groups.length !== groups) throw new Error(`core found ${core.value.groups.length} groups, not ${groups}`)
    const cli = await runCli(['outbox', 'failures', '--json'], {env, timeoutMs: 600_000})
    if (cli.code !== 1) throw new Error(`outbox failures exited ${cli.code}: ${cli.stderr}`)
    const report = JSON.parse(cli.stdout) as {groups: unknown[]; scanned: number}
    if (report.groups.length !== groups || report.scanned !== rows) throw new Error(`outbox failures: ${report.groups.length} groups over ${report.scanned} rows`)
    const line = (name: string, s: number) => `${name.padEnd(44)} ${s.toFixed(2).padStart(7)} s   ${(s / groupBy.s).toFixed(2)}× the GROUP BY\n`
    process.stdout.write(line(`GROUP BY (${groupBy.value.toLocaleString('en-US')} distinct texts)`, groupBy.s))
    process.stdout.write(line('outbox failures, core in this process', core.s))
    process.stdout.write(line('msgops outbox failures --json (CLI)', cli.ms / 1000))

    // 2. requeue --group of R rows against a raw keyset loop of chunked UPDATEs.
    const every = Math.max(1, Math.round(rows / requeue))
    await conn.query(`UPDATE outbox SET event_type = 'order.big', last_error = CONCAT('NullReferenceException in OrderHandler: order ', SUBSTRING(id, 2)) WHERE status = 'dead_letter' AND CAST(SUBSTRING(id, 2) AS UNSIGNED) % ${every} = 0`)
    const [[{n: inGroup}]] = (await conn.query("SELECT COUNT(*) AS n FROM outbox WHERE event_type = 'order.big'")) as unknown as [{n: number}[]]
    const fp = fingerprint({error: 'NullReferenceException in OrderHandler: order 2', subject: 'order.big'})
    const reset = () => conn.query("UPDATE outbox SET status = 'dead_letter', attempts = 10 WHERE event_type = 'order.big'")
    const raw = await timed(async () => {
      let cursor: {at: string; id: string} | undefined
      let done = 0
      for (;;) {
        const [ids] = (await conn.query(
          `SELECT id, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS at FROM outbox FORCE INDEX (idx_outbox_status_created) WHERE status = 'dead_letter'${cursor ? ' AND created_at >= ? AND (created_at > ? OR id > ?)' : ''} ORDER BY created_at, id LIMIT 10000`,
          cursor ? [cursor.at, cursor.at, cursor.id] : [],
        )) as unknown as [{id: string; at: string}[]]
        if (ids.length === 0) break
        cursor = ids.at(-1)!
        const [mine] = (await conn.query("SELECT id FROM outbox WHERE id IN (?) AND event_type = 'order.big'", [ids.map((r) => r.id)])) as unknown as [{id: string}[]]
        for (let at = 0; at < mine.length; at += 1000) {
          const [r] = await conn.query("UPDATE outbox SET status = 'pending', attempts = 0 WHERE id IN (?) AND status = 'dead_letter'", [mine.slice(at, at + 1000).map((m) => m.id)])
          done += (r as {affectedRows: number}).affectedRows
        }
      }
      return done
    })
    if (raw.value !== Number(inGroup)) throw new Error(`raw loop requeued ${raw.value} of ${inGroup}`)
    await reset()
    const run = await runCli(['outbox', 'requeue', '--group', fp, '--yes', '--json'], {env, timeoutMs: 1_200_000})
    if (run.code !== 0) throw new Error(`outbox requeue --group exited ${run.code}: ${run.stderr}`)
    const requeued = (JSON.parse(run.stdout) as {requeued: number}).requeued
    if (requeued !== Number(inGroup)) throw new Error(`requeue --group requeued ${requeued} of ${inGroup}`)
    const rate = (n: number, s: number) => Math.round(n / s)
    process.stdout.write(`raw keyset loop, UPDATE by id in chunks of 1000      ${rate(raw.value, raw.s).toLocaleString('en-US').padStart(9)} rows/s (${Number(inGroup).toLocaleString('en-US')} rows, ${raw.s.toFixed(1)} s)\n`)
    process.stdout.write(`msgops outbox requeue --group (CLI, both passes)     ${rate(requeued, run.ms / 1000).toLocaleString('en-US').padStart(9)} rows/s (${(run.ms / 1000).toFixed(1)} s)   ratio ${((raw.s * 1000) / run.ms).toFixed(2)}\n`)
  } finally {
    await conn.end()
    await Promise.all([db.drop(), redis.cleanup()])
  }
}
