/**
 * `npm run bench -- snapshot [--rows 1000000] [--runs 5] [--keep]`
 *
 * Loads N outbox rows (98% sent over the last days, 1% pending, 1% dead letters in 4 failure kinds) and N inbox
 * records (received → processed 20 ms to 2 s later, 0.5% failed), ANALYZE, then in the same run measures, --runs times
 * in turn after one untimed run of each (the machine's noise is ±10%):
 *   raw limit: the single cheapest query a snapshot needs, the oldest pending row (MIN(created_at) on (status, created_at));
 *   snapshot: Snapshotter.take() over the real services (MySQL, the management API, Redis), every part side by side.
 * Prints each pair, the medians, every part's own time and the ratio. Target: a snapshot under 200 ms at 10,000,000
 * rows (--rows 10000000 loads in about 2.5 min; --keep keeps the database, --database NAME runs again on it).
 */
import {randomBytes} from 'node:crypto'

import mysql from 'mysql2/promise'

import {MysqlAdapter} from '../src/adapters/mysql.js'
import {SnapshotSources} from '../src/adapters/snapshot.js'
import {DEFAULTS} from '../src/config/defaults.js'
import {initSchema} from '../src/core/schema.js'
import {Snapshotter} from '../src/core/snapshot/snapshot.js'

const MYSQL_ROOT = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
// 200,000 rows a statement (as bench/trace.ts): a 1,000,000-row INSERT … SELECT holds a big undo log in a 128 MB buffer pool.
const CHUNK = 200_000

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/**
 * Loads `rows` outbox rows and inbox records (the shape above) with INSERT … SELECT from the sequence engine, then
 * ANALYZE; bench/top.ts loads its database with it too.
 */
export async function loadRows(sql: MysqlAdapter, rows: number): Promise<void> {
  const loadStart = Date.now()
  for (let from = 1; from <= rows; from += CHUNK) {
    const to = Math.min(rows, from + CHUNK - 1)
    // Ids zero-padded so that every index is appended to in order ('m10' sorts before 'm2': B-tree page splits all over).
    // seq % 100: 0 pending, 1 dead letter (its kind by seq DIV 100: seq % 4 would be 1 for all), else sent; one second apart back from now.
    await sql.execute(`INSERT INTO outbox (id, aggregate_id, event_type, payload, status, attempts, last_error, created_at, sent_at)
      SELECT CONCAT('m', LPAD(seq, 9, '0')), CONCAT('o', LPAD(seq, 9, '0')), 'order.created', '{}', ELT(1 + LEAST(seq % 100, 2), 'pending', 'dead_letter', 'sent'),
        IF(seq % 100 = 1, 5, 0), IF(seq % 100 = 1, ELT(1 + (seq DIV 100) % 4, 'timeout after 30000 ms', 'NO_ROUTE 312', 'connection refused to 10.0.0.1:5672', 'bad payload'), NULL),
        NOW(3) - INTERVAL (${rows} - seq) SECOND, IF(seq % 100 >= 2, NOW(3) - INTERVAL (${rows} - seq) SECOND, NULL)
      FROM seq_${from}_to_${to}`)
    await sql.execute(`INSERT INTO inbox (message_id, consumer, status, received_at, processed_at)
      SELECT CONCAT('m', LPAD(seq, 9, '0')), 'billing', IF(seq % 200 = 0, 'failed', 'processed'), NOW(3) - INTERVAL (${rows} - seq) SECOND,
        IF(seq % 200 = 0, NULL, NOW(3) - INTERVAL (${rows} - seq) SECOND + INTERVAL (20 + seq % 1980) * 1000 MICROSECOND)
      FROM seq_${from}_to_${to}`)
    if (to % 1_000_000 === 0 || to === rows) process.stdout.write(`  loaded ${to.toLocaleString('en')} (${((Date.now() - loadStart) / 1000).toFixed(0)} s)\n`)
  }
  await sql.query('ANALYZE TABLE outbox, inbox')
}

export async function main(args: string[]): Promise<void> {
  const rows = Number(arg(args, '--rows', '1000000'))
  const runs = Number(arg(args, '--runs', '5'))
  const keep = args.includes('--keep')
  const reuse = arg(args, '--database', '')
  if (!Number.isInteger(rows) || rows < 1000) throw new Error('--rows must be an integer of at least 1000')
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer')
  const dbName = reuse || `msgops_bench_snap_${randomBytes(3).toString('hex')}`
  const url = new URL(MYSQL_ROOT)
  url.pathname = `/${dbName}`
  const config = {...DEFAULTS, mysql: {url: url.toString()}, redis: {...DEFAULTS.redis, keyPrefix: `${dbName}:`}}
  const root = await mysql.createConnection(MYSQL_ROOT)
  if (!reuse) await root.query(`CREATE DATABASE \`${dbName}\``)
  const sql = await MysqlAdapter.connect(url.toString(), 5000)
  const sources = new SnapshotSources(config, 5000, 60_000)
  try {
    if (!reuse) {
      process.stdout.write(`snapshot bench: ${rows.toLocaleString('en')} outbox rows and inbox records, database ${dbName}\n`)
      await initSchema(sql, config)
      await loadRows(sql, rows)
    }
    const rawQuery = "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(`created_at`), NOW(3)) DIV 1000 AS age FROM `outbox` WHERE `status` = 'pending'"
    const snapshotter = new Snapshotter(sources, {config, queues: [], timeoutMs: 60_000})
    const raw = async () => {
      const t = performance.now()
      await sql.query(rawQuery)
      return performance.now() - t
    }
    const snap = async () => {
      const t = performance.now()
      const s = await snapshotter.take()
      for (const part of ['outbox', 'inbox', 'reconcile', 'locks', 'broker'] as const) if (s[part].state !== 'ok') throw new Error(`${part}: ${s[part].state} ${s[part].error ?? ''}`)
      return {
        ms: performance.now() - t, outbox: s.outbox.tookMs, inbox: s.inbox.tookMs, broker: s.broker.tookMs, reconcile: s.reconcile.tookMs, locks: s.locks.tookMs,
        counts: s.outbox.data!.counts, approximate: s.outbox.data!.approximate,
      }
    }
    await raw()
    const warm = await snap()
    process.stdout.write(`outbox counts ${JSON.stringify(warm.counts)} (estimated: ${warm.approximate.join(', ') || 'none'})\n`)
    const pairs: {raw: number; snap: number; outbox: number; inbox: number; broker: number; reconcile: number; locks: number}[] = []
    for (let i = 0; i < runs; i++) {
      const r = await raw()
      const s = await snap()
      pairs.push({raw: r, snap: s.ms, outbox: s.outbox, inbox: s.inbox, broker: s.broker, reconcile: s.reconcile, locks: s.locks})
      process.stdout.write(`  run ${i + 1}: raw ${r.toFixed(1)} ms · snapshot ${s.ms.toFixed(1)} ms (outbox ${s.outbox} ms, inbox ${s.inbox} ms, broker ${s.broker} ms, reconcile ${s.reconcile} ms, locks ${s.locks} ms)\n`)
    }
    const rawMs = median(pairs.map((p) => p.raw))
    const snapMs = median(pairs.map((p) => p.snap))
    process.stdout.write(
      `median: raw limit (oldest pending row) ${rawMs.toFixed(1)} ms · snapshot ${snapMs.toFixed(1)} ms (outbox part ${median(pairs.map((p) => p.outbox))} ms, inbox part ${median(pairs.map((p) => p.inbox))} ms, broker ${median(pairs.map((p) => p.broker))} ms, reconcile ${median(pairs.map((p) => p.reconcile))} ms, locks ${median(pairs.map((p) => p.locks))} ms) · ratio ${(snapMs / Math.max(rawMs, 0.001)).toFixed(1)} · target < 200 ms: ${snapMs < 200 ? 'met' : 'NOT met'}\n`,
    )
  } finally {
    await sources.close()
    await sql.close()
    if (!keep && !reuse) await root.query(`DROP DATABASE IF EXISTS \`${dbName}\``)
    else process.stdout.write(`kept database ${dbName} (--database ${dbName} to run again on it)\n`)
    await root.end()
  }
}
