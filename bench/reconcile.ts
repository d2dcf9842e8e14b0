/**
 * `npm run bench -- reconcile [--rows 1000000] [--runs 5] [--batch-size N] [--buffer-pool-mb N] [--parts N] [--keep]`
 *
 * Loads N orders with their outbox rows, inbox records and Redis keys, injects 0.1% of every kind of discrepancy
 * (disjoint sets), then in the same run measures, --runs times in turn (default 5; the machine's noise is ±10%):
 *   raw limit: one SQL anti-join of orders against inbox (SELECT COUNT(*) … NOT EXISTS), warm;
 *   reconcile: the built CLI `msgops reconcile --json` with all seven checks, Redis included, as cron runs it; warm too
 *   (one untimed run of each first).
 * Prints every pair, the median ratio, the CLI's peak RSS (VmHWM) and whether every run's findings equal the injected set.
 * Targets: ratio ≤ 2, peak RSS < 200 MB at a million rows, findings exact. Needs dist/ (npm run build).
 * --parts N then runs the whole reconcile once in one chunk (--chunk-time 0) and once chunked (the default), the N parts
 * one after another, and parts 1/2 and 2/2 side by side: wall time, the CLI's CPU (user + sys, /usr/bin/time) and
 * MariaDB's CPU (/proc of mariadbd, which other work on a shared machine adds to), and whether the union is exact.
 * --buffer-pool-mb N sets MariaDB's innodb_buffer_pool_size (a global, dynamic variable) for the timed runs and puts
 * it back afterwards: it shows what the server's memory, not msgops, costs (reconcile reads 236 MB of pages at a
 * million orders, the anti-join 57 MB, which the default 128 MB pool holds).
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Redis} from 'ioredis'
import mysql from 'mysql2/promise'

import {DEFAULTS} from '../src/config/defaults.js'
import {initSchema} from '../src/core/schema.js'

const MYSQL_ROOT = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const RUN_JS = fileURLToPath(new URL('../bin/run.js', import.meta.url))
// Orders per INSERT … SELECT (a chunk's rows of each table are one statement), and keys per MSET.
const LOAD_CHUNK = 500_000
const REDIS_BATCH = 10_000

type Kind = 'order_without_message' | 'message_stuck' | 'message_dead' | 'sent_not_consumed' | 'consumed_failed' | 'orphan_consumed' | 'cache_drift'

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`
}

/** Which discrepancy order i carries: one order in a thousand for each kind, disjoint. */
function kindOf(i: number): Kind | null {
  switch (i % 1000) {
    case 0:
      return 'order_without_message'
    case 1:
      return 'message_stuck'
    case 2:
      return 'message_dead'
    case 3:
      return 'sent_not_consumed'
    case 4:
      return 'consumed_failed'
    case 5:
      return 'cache_drift'
    default:
      return null
  }
}

const pad = (i: number) => String(i).padStart(8, '0')

/** What a bench database holds, in its bench_meta table, so that --database can time it again without reloading. */
interface Meta {
  rows: number
  prefix: string
  /** The database's clock an hour before the load began: order i was created (i mod 3600) seconds before it. */
  base: string
  /** Orders 0 … loaded-1 are in, with their outbox, inbox rows and Redis keys (the load goes in chunks). */
  loaded: number
  analyzed: boolean
  /** The time indexes dropped for the load and added back after it (ALTER TABLE statements). */
  deferred?: string[]
}

/**
 * The indexes that begin with a time column: order i's times are (i mod 3600) seconds before the base, so each chunk
 * inserts into 3,600 places spread over each of them, which at millions of rows no longer fit MariaDB's 128 MB buffer
 * pool (2026-12-01: chunks of 500,000 orders slowed from 13 s to 148 s by 2,000,000). Built once after the load
 * instead, by sorting. The other secondary keys grow at their end (ids in load order) and stay.
 */
const DEFERRED = ['idx_orders_created_at', 'idx_outbox_status_created', 'idx_outbox_created_at', 'idx_outbox_sent_at', 'idx_inbox_status_received', 'idx_inbox_received_message']

/** Drops the DEFERRED indexes (once), recording in meta how to add them back. */
async function deferIndexes(pool: mysql.Pool, meta: Meta): Promise<void> {
  if (meta.deferred) return
  const [rows] = (await pool.query(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS name, GROUP_CONCAT(CONCAT('\`', COLUMN_NAME, '\`') ORDER BY SEQ_IN_INDEX) AS cols
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME IN (?) GROUP BY TABLE_NAME, INDEX_NAME`,
    [DEFERRED],
  )) as unknown as [{t: string; name: string; cols: string}[]]
  const byTable = new Map<string, {name: string; cols: string}[]>()
  for (const r of rows) byTable.set(r.t, [...(byTable.get(r.t) ?? []), r])
  meta.deferred = [...byTable].map(([t, idx]) => `ALTER TABLE \`${t}\` ${idx.map((i) => `ADD KEY \`${i.name}\` (${i.cols})`).join(', ')}`)
  await writeMeta(pool, meta)
  for (const [t, idx] of byTable) await pool.query(`ALTER TABLE \`${t}\` ${idx.map((i) => `DROP KEY \`${i.name}\``).join(', ')}`)
}

/** Adds the deferred indexes back, one ALTER (one sort pass over the table) per table. */
async function restoreIndexes(pool: mysql.Pool, meta: Meta): Promise<void> {
  if (!meta.deferred) return
  for (const sql of meta.deferred) {
    const started = Date.now()
    await pool.query(sql)
    process.stderr.write(`  ${sql.slice(0, 80)}…: ${((Date.now() - started) / 1000).toFixed(1)}s\n`)
  }
  delete meta.deferred
  await writeMeta(pool, meta)
}

async function readMeta(pool: mysql.Pool): Promise<Meta> {
  const [rows] = (await pool.query("SELECT v FROM bench_meta WHERE k = 'meta'")) as unknown as [{v: string | Meta}[]]
  if (rows.length === 0) throw new Error('this database has no bench_meta row: not made by this bench')
  return typeof rows[0].v === 'string' ? (JSON.parse(rows[0].v) as Meta) : rows[0].v
}

async function writeMeta(pool: mysql.Pool, meta: Meta): Promise<void> {
  await pool.query("REPLACE INTO bench_meta (k, v) VALUES ('meta', ?)", [JSON.stringify(meta)])
}

/** The ids the checks must find in a database of `rows` orders: the rule of kindOf(), which the loader's SQL follows. */
export function injectedSet(rows: number): Record<Kind, Set<string>> {
  const injected: Record<Kind, Set<string>> = {
    order_without_message: new Set(),
    message_stuck: new Set(),
    message_dead: new Set(),
    sent_not_consumed: new Set(),
    consumed_failed: new Set(),
    orphan_consumed: new Set(),
    cache_drift: new Set(),
  }
  for (let k = 0; k < rows; k += 1000) {
    for (let i = k; i < Math.min(rows, k + 7); i++) {
      const kind = kindOf(i)
      if (kind) injected[kind].add(kind === 'order_without_message' || kind === 'cache_drift' ? `o${pad(i)}` : `m${pad(i)}`)
      // An inbox record whose message never existed in the outbox.
      if (i % 1000 === 6) injected.orphan_consumed.add(`x${pad(i)}`)
    }
  }
  return injected
}

/**
 * The rows of orders s … e (inclusive), generated by MariaDB from a sequence table (one INSERT … SELECT per table,
 * no rows through the client), by the rule of kindOf():
 *   i mod 1000 = 0: an order without its outbox row; 1: outbox pending; 2: outbox dead_letter; 3: sent, no inbox row;
 *   4: inbox failed; 5: the order's Redis key missing; 6: besides its own, an inbox row x… with no outbox row;
 *   every other order: outbox sent, inbox processed, Redis key 'paid'.
 * Order i and its outbox and inbox rows are created (i mod 3600) seconds before the base time.
 */
function chunkSql(s: number, e: number): string[] {
  const seq = `seq_${s}_to_${e}`
  const at = 'CAST(? AS DATETIME(3)) - INTERVAL (seq MOD 3600) SECOND'
  const id = (p: string) => `CONCAT('${p}', LPAD(seq, 8, '0'))`
  return [
    `INSERT INTO orders (id, message_id, status, created_at, updated_at) SELECT ${id('o')}, ${id('m')}, 'paid', ${at}, ${at} FROM ${seq}`,
    `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload, status, created_at, sent_at)
     SELECT ${id('m')}, 'order', ${id('o')}, 'order.created', 'orders', 'order.created', '{}',
       CASE seq MOD 1000 WHEN 1 THEN 'pending' WHEN 2 THEN 'dead_letter' ELSE 'sent' END, ${at}, IF(seq MOD 1000 IN (1, 2), NULL, ${at})
     FROM ${seq} WHERE seq MOD 1000 <> 0`,
    `INSERT INTO inbox (message_id, consumer, status, received_at)
     SELECT ${id('m')}, 'billing', IF(seq MOD 1000 = 4, 'failed', 'processed'), ${at} FROM ${seq} WHERE seq MOD 1000 NOT IN (0, 1, 2, 3)`,
    `INSERT INTO inbox (message_id, consumer, status, received_at) SELECT ${id('x')}, 'billing', 'processed', ${at} FROM ${seq} WHERE seq MOD 1000 = 6`,
  ]
}

/** The base time once for each placeholder of a chunkSql() statement. */
const baseParams = (sql: string, base: string) => Array.from({length: sql.split('?').length - 1}, () => base)

/**
 * Loads orders meta.loaded … meta.rows-1 in chunks of LOAD_CHUNK, each chunk's Redis keys by MSETs pipelined beside
 * its SQL, recording progress after every chunk; stops before a chunk that would end after budgetMs (0: no limit).
 */
async function loadRows(pool: mysql.Pool, redis: Redis, meta: Meta, budgetMs: number): Promise<void> {
  const started = Date.now()
  // A load killed mid-chunk left part of that chunk: remove it (nothing to remove when the last piece ended cleanly).
  const from = pad(meta.loaded)
  await Promise.all([
    pool.query('DELETE FROM orders WHERE id >= ?', [`o${from}`]),
    pool.query('DELETE FROM outbox WHERE id >= ?', [`m${from}`]),
    pool.query("DELETE FROM inbox WHERE (message_id >= ? AND message_id < 'n') OR message_id >= ?", [`m${from}`, `x${from}`]),
  ])
  let lastChunkMs = 0
  while (meta.loaded < meta.rows) {
    if (budgetMs > 0 && Date.now() - started + lastChunkMs > budgetMs) return
    const chunkStart = Date.now()
    const s = meta.loaded
    const e = Math.min(meta.rows, s + LOAD_CHUNK) - 1
    const pipe = redis.pipeline()
    let pairs: string[] = []
    for (let i = s; i <= e; i++) {
      // Every drifted order's key is missing. (The client-side loader this replaced meant half of them to hold another
      // status, but its test, (i / 1000) % 2 === 0, never held for i mod 1000 = 5; kept so that the figures compare.)
      if (i % 1000 === 5) continue
      pairs.push(`${meta.prefix}order:o${pad(i)}`, 'paid')
      if (pairs.length >= 2 * REDIS_BATCH) {
        pipe.mset(pairs)
        pairs = []
      }
    }
    if (pairs.length > 0) pipe.mset(pairs)
    const [orders, outbox, inbox, orphans] = chunkSql(s, e)
    const run = (sql: string) => pool.query(sql, baseParams(sql, meta.base))
    // The two inbox statements one after the other: side by side, MariaDB 10.11 failed one with "Failed to read
    // auto-increment value from storage engine".
    await Promise.all([run(orders), run(outbox), run(inbox).then(() => run(orphans)), pipe.exec()])
    meta.loaded = e + 1
    await writeMeta(pool, meta)
    lastChunkMs = Date.now() - chunkStart
    process.stderr.write(`  loaded ${meta.loaded.toLocaleString('en')} orders (${(lastChunkMs / 1000).toFixed(1)}s for the last ${(e + 1 - s).toLocaleString('en')})\n`)
  }
}

export async function main(args: string[]): Promise<void> {
  const reuse = arg(args, '--database', '')
  const rowsArg = arg(args, '--rows', '')
  const parts = Number(arg(args, '--parts', '0'))
  const batch = arg(args, '--batch-size', '')
  const loadOnly = args.includes('--load-only')
  const loadBudget = Number(arg(args, '--load-budget', '0'))
  const idIndex = !args.includes('--no-id-index')
  const bufferPoolMb = arg(args, '--buffer-pool-mb', '')
  if (bufferPoolMb && !/^[1-9]\d*$/.test(bufferPoolMb)) throw new Error('--buffer-pool-mb must be a positive integer')
  const runs = Number(arg(args, '--runs', '5'))
  if (!Number.isInteger(runs) || runs < 0) throw new Error('--runs must be an integer of at least 0')
  if (!Number.isFinite(loadBudget) || loadBudget < 0) throw new Error('--load-budget must be a number of seconds')
  if (reuse && !/^msgops_bench_rec_[0-9a-f]{6}$/.test(reuse)) throw new Error('--database must name a database this bench made (msgops_bench_rec_XXXXXX)')
  // A load cut short by --load-budget is kept, or the next piece would have nothing to continue.
  let keep = args.includes('--keep') || loadOnly || loadBudget > 0

  const root = await mysql.createConnection(MYSQL_ROOT)
  const dbName = reuse || `msgops_bench_rec_${randomBytes(3).toString('hex')}`
  if (!reuse) await root.query(`CREATE DATABASE \`${dbName}\``)
  await root.end()
  const url = new URL(MYSQL_ROOT)
  url.pathname = `/${dbName}`
  const pool = mysql.createPool({uri: url.toString(), connectionLimit: 4})
  const redis = new Redis(REDIS_URL)
  let restorePool: number | null = null
  const dir = join(tmpdir(), `msgops-bench-rec-${randomBytes(3).toString('hex')}`)
  const configFile = `${dir}.yaml`
  let prefix = `msgops_bench_rec_${randomBytes(3).toString('hex')}:`

  try {
    let meta: Meta
    if (reuse) {
      meta = await readMeta(pool)
      prefix = meta.prefix
      if (rowsArg && Number(rowsArg) !== meta.rows) throw new Error(`--rows ${rowsArg}: database ${dbName} was made for ${meta.rows} rows`)
    } else {
      const rows = Number(rowsArg || '1000000')
      if (!Number.isInteger(rows) || rows < 1000 || rows > 100_000_000) throw new Error('--rows must be an integer from 1000 to 100000000')
      const config = {...DEFAULTS, cache: {...DEFAULTS.cache, keyPattern: `${prefix}order:{id}`}}
      await initSchema({
        query: async (sql: string, params?: unknown[]) => (await pool.query(sql, params))[0] as never,
        execute: async (sql: string, params?: unknown[]) => ({affectedRows: 0, ...((await pool.query(sql, params))[0] as object)}),
        transaction: async () => {
          throw new Error('unused')
        },
        version: async () => '',
      }, config)
      // The index docs/reconcile.md recommends for full reconciliations of a large outbox (not in the reference schema).
      if (idIndex) await pool.query('CREATE INDEX idx_outbox_id ON outbox (id)')
      const [[{base}]] = (await pool.query("SELECT DATE_FORMAT(NOW(3) - INTERVAL 1 HOUR, '%Y-%m-%d %H:%i:%s.%f') AS base")) as unknown as [[{base: string}]]
      meta = {rows, prefix, base, loaded: 0, analyzed: false}
      await pool.query('CREATE TABLE bench_meta (k VARCHAR(16) NOT NULL PRIMARY KEY, v JSON NOT NULL)')
      await writeMeta(pool, meta)
    }
    const rows = meta.rows
    writeFileSync(configFile, `cache:\n  keyPattern: "${prefix}order:{id}"\n`)
    process.stdout.write(`reconcile bench: ${rows.toLocaleString('en')} orders, 0.1% of each discrepancy, database ${dbName}, Redis prefix ${prefix}\n`)
    const injected = injectedSet(rows)

    if (meta.loaded < rows) {
      const loadStart = Date.now()
      const from = meta.loaded
      await deferIndexes(pool, meta)
      await loadRows(pool, redis, meta, loadBudget * 1000)
      const s = (Date.now() - loadStart) / 1000
      process.stdout.write(`loaded orders ${from.toLocaleString('en')} to ${meta.loaded.toLocaleString('en')} in ${s.toFixed(1)}s (${Math.round((meta.loaded - from) / s).toLocaleString('en')} orders/s with their outbox, inbox rows and Redis keys)\n`)
      if (meta.loaded < rows) {
        keep = true
        process.stdout.write(`load budget spent: rerun with --database ${dbName} to load the rest\n`)
        return
      }
    }
    if (meta.deferred) {
      const started = Date.now()
      await restoreIndexes(pool, meta)
      process.stdout.write(`added the time indexes back in ${((Date.now() - started) / 1000).toFixed(1)}s\n`)
    }
    if (!meta.analyzed) {
      await pool.query('ANALYZE TABLE orders, outbox, inbox')
      meta.analyzed = true
      await writeMeta(pool, meta)
    }
    if (loadOnly) return
    // Both sides are timed on a settled server: the load leaves MariaDB flushing dirty pages for tens of seconds.
    const settled = await waitForFlush(pool, 120_000)
    process.stdout.write(`MariaDB flushed the load's dirty pages in ${(settled.ms / 1000).toFixed(1)}s (${settled.dirty} left)\n`)

    if (bufferPoolMb) {
      const [[{size}]] = (await pool.query('SELECT @@innodb_buffer_pool_size AS size')) as unknown as [[{size: number}]]
      restorePool = Number(size)
      await pool.query('SET GLOBAL innodb_buffer_pool_size = ?', [Number(bufferPoolMb) * 1024 * 1024])
      process.stdout.write(`MariaDB buffer pool set to ${bufferPoolMb} MB for the timed runs (was ${mb(restorePool)}; put back afterwards)\n`)
    }

    // Raw limit: the anti-join of orders against inbox, timed in turn with reconcile after one untimed run of each.
    const antiJoin = 'SELECT COUNT(*) AS n FROM orders o WHERE NOT EXISTS (SELECT 1 FROM inbox i WHERE i.message_id = o.message_id)'
    const timeAntiJoin = async () => {
      const started = process.hrtime.bigint()
      await pool.query(antiJoin)
      return Number(process.hrtime.bigint() - started) / 1e6
    }

    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MSGOPS_')) env[k] = v
    Object.assign(env, {MSGOPS_MYSQL_URL: url.toString(), MSGOPS_REDIS_URL: REDIS_URL, MSGOPS_REDIS_KEY_PREFIX: prefix, NO_COLOR: '1'})
    // The fixed cost of a CLI run (start-up, config, connections, lock) on an empty window, to read the ratio fairly.
    const idle = runs > 0 ? await runMeasured(['reconcile', '--json', '--config', configFile, '--since', '1ms'], env) : {ms: 0}
    // The CLI's own page size unless one is given.
    const args = ['reconcile', '--json', '--config', configFile, '--sample', '1000', ...(batch ? ['--batch-size', batch] : [])]
    // Both warm: one untimed run of each first (the load leaves MariaDB's buffer pool holding the last table written).
    if (runs > 0) await timeAntiJoin()
    await runMeasured(args, env)
    const pairs: {rawMs: number; ms: number}[] = []
    let peakRss = 0
    let exact = true
    let lines: string[] = []
    let merged: string[] = []
    for (let run = 0; run < runs; run++) {
      const rawMs = await timeAntiJoin()
      const measured = await runMeasured(args, env)
      if (measured.code !== 0 && measured.code !== 1) throw new Error(`reconcile exited ${measured.code}: ${measured.stderr}`)
      pairs.push({rawMs, ms: measured.ms})
      peakRss = Math.max(peakRss, measured.peakRss)
      const report = JSON.parse(measured.stdout) as {checks: Record<Kind, {count: number; samples: {id: string}[]}>; merged: string[]}
      merged = report.merged
      lines = []
      for (const kind of Object.keys(injected) as Kind[]) {
        const found = report.checks[kind]
        const want = injected[kind]
        const got = new Set(found.samples.map((s) => s.id))
        // Samples hold every finding when count ≤ 1000 (0.1% of a million); above that the count and the sample are checked.
        const same = found.count === want.size && [...got].every((id) => want.has(id)) && (want.size > 1000 || got.size === want.size)
        exact &&= same
        lines.push(`  ${kind.padEnd(22)} injected ${String(want.size).padStart(6)}  found ${String(found.count).padStart(6)}  ${same ? 'exact' : 'DIFFERENT'}`)
      }
      process.stdout.write(`run ${run + 1}: anti-join ${(rawMs / 1000).toFixed(2)}s, reconcile ${(measured.ms / 1000).toFixed(2)}s = ${(measured.ms / rawMs).toFixed(2)}×\n`)
    }
    if (runs > 0) process.stdout.write(`${lines.join('\n')}\n`)
    if (parts > 1) await benchParts(['--config', configFile], env, parts, injected)
    if (runs === 0) return
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b)
      return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
    }
    const ratios = pairs.map((p) => p.ms / p.rawMs)
    const rawMs = median(pairs.map((p) => p.rawMs))
    const ms = median(pairs.map((p) => p.ms))
    process.stdout.write(
      [
        `raw limit  single SQL anti-join orders ⟕ inbox:    ${(rawMs / 1000).toFixed(2)}s (median of ${runs})`,
        `reconcile  msgops reconcile, 7 checks + Redis (CLI): ${(ms / 1000).toFixed(2)}s (median of ${runs})`,
        `ratio      ${median(ratios).toFixed(2)}× the anti-join, median of ${runs} pairs (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×; target ≤ 1.5 at 10,000,000 rows, issue 22)`,
        `           of which the fixed cost of a CLI run (empty window): ${(idle.ms / 1000).toFixed(2)}s; without it ${((ms - idle.ms) / rawMs).toFixed(2)}×`,
        `peak RSS   of the reconcile process:              ${mb(peakRss)}  (target < 200 MB, flat from 1,000,000 to 10,000,000 rows)`,
        `findings   ${exact ? `exactly the injected set, every run` : 'NOT the injected set'}; merge plan for: ${merged.join(', ') || 'none'}`,
      ].join('\n') + '\n',
    )
  } finally {
    if (restorePool !== null) await pool.query('SET GLOBAL innodb_buffer_pool_size = ?', [restorePool]).catch(() => {})
    if (keep) process.stdout.write(`kept database ${dbName} and Redis prefix ${prefix}\n`)
    else {
      await pool.query(`DROP DATABASE IF EXISTS \`${dbName}\``).catch(() => {})
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10_000)
        if (keys.length > 0) await redis.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    }
    await pool.end()
    redis.disconnect()
    rmSync(configFile, {force: true})
  }
}

/**
 * Waits until InnoDB has (nearly) no dirty pages left, or has flushed none for 10 s (MariaDB may keep a few thousand
 * dirty pages for minutes once it is idle), or the time is up.
 */
export async function waitForFlush(pool: mysql.Pool, maxMs: number): Promise<{ms: number; dirty: number}> {
  const started = Date.now()
  let fewest = Number.POSITIVE_INFINITY
  let since = started
  for (;;) {
    const [rows] = (await pool.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")) as unknown as [{Value: string}[]]
    const dirty = Number(rows[0]?.Value ?? 0)
    if (dirty < fewest) {
      fewest = dirty
      since = Date.now()
    }
    if (dirty < 100 || Date.now() - since > 10_000 || Date.now() - started > maxMs) return {ms: Date.now() - started, dirty}
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/** The CPU seconds (user + sys) a process has used so far, from /proc. */
function cpuOfPid(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** The shared MariaDB server's pid (a private one started with --no-defaults is left out). */
function serverPid(): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'mariadbd') continue
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('--no-defaults')) continue
      return Number(entry)
    } catch {
      // gone
    }
  }
  return null
}

/** A CLI run's wall time, its own CPU (/usr/bin/time), MariaDB's CPU meanwhile, and its report. */
async function runTimed(args: string[], env: Record<string, string>): Promise<{ms: number; cpuS: number; dbCpuS: number; report: any}> {
  const out = join(tmpdir(), `msgops-bench-time-${randomBytes(3).toString('hex')}`)
  const pid = serverPid()
  const db0 = pid ? cpuOfPid(pid) : 0
  const started = process.hrtime.bigint()
  const result = await new Promise<{code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', out, process.execPath, RUN_JS, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  const dbCpuS = pid ? cpuOfPid(pid) - db0 : Number.NaN
  if (result.code !== 0 && result.code !== 1) throw new Error(`reconcile ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  const [user, sys] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
  rmSync(out, {force: true})
  return {ms, cpuS: user + sys, dbCpuS, report: JSON.parse(result.stdout)}
}

/** --parts N: see the file's comment. */
async function benchParts(args: string[], env: Record<string, string>, n: number, injected: Record<Kind, Set<string>>): Promise<void> {
  const base = ['reconcile', '--json', ...args, '--sample', '1000']
  const line = (name: string, r: {ms: number; cpuS: number; dbCpuS: number}) =>
    `  ${name.padEnd(34)} wall ${(r.ms / 1000).toFixed(2)}s  CLI CPU ${r.cpuS.toFixed(2)}s  MariaDB CPU ${r.dbCpuS.toFixed(2)}s`
  const one = await runTimed([...base, '--chunk-time', '0'], env)
  const chunked = await runTimed(base, env)
  process.stdout.write(`parts (${n}):
${line('whole, one chunk', one)}
${line(`whole, chunked (${chunked.report.chunks.read} chunks)`, chunked)}
`)
  const runs: Awaited<ReturnType<typeof runTimed>>[] = []
  for (let k = 1; k <= n; k++) {
    const r = await runTimed([...base, '--part', `${k}/${n}`], env)
    runs.push(r)
    process.stdout.write(`${line(`part ${k}/${n} (${r.report.total} findings)`, r)}
`)
  }
  const sum = (f: (r: (typeof runs)[number]) => number) => runs.reduce((a, r) => a + f(r), 0)
  process.stdout.write(`${line(`sum of the ${n} parts`, {ms: sum((r) => r.ms), cpuS: sum((r) => r.cpuS), dbCpuS: sum((r) => r.dbCpuS)})}
`)
  const total = (r: {cpuS: number; dbCpuS: number}) => r.cpuS + r.dbCpuS
  process.stdout.write(`  CPU of the parts (CLI + MariaDB) / a whole chunked run: ${(sum(total) / total(chunked)).toFixed(2)}×; CLI alone ${(sum((r) => r.cpuS) / chunked.cpuS).toFixed(2)}× (target ≤ 1.15)
`)
  let exact = true
  for (const kind of Object.keys(injected) as Kind[]) {
    const count = sum((r) => r.report.checks[kind].count)
    const ids = new Set(runs.flatMap((r) => r.report.checks[kind].samples.map((x: {id: string}) => x.id)))
    exact &&= count === injected[kind].size && [...ids].every((id) => injected[kind].has(id)) && (injected[kind].size > 1000 || ids.size === count)
  }
  process.stdout.write(`  union of the parts' findings: ${exact ? 'exactly the injected set' : 'NOT the injected set'}
`)
  const pid = serverPid()
  const db0 = pid ? cpuOfPid(pid) : 0
  const started = Date.now()
  const pair = await Promise.all([1, 2].map((k) => runTimed([...base, '--part', `${k}/2`], env)))
  const wall = Date.now() - started
  process.stdout.write(`  parts 1/2 and 2/2 side by side: wall ${(wall / 1000).toFixed(2)}s against ${(chunked.ms / 1000).toFixed(2)}s whole (${(wall / chunked.ms).toFixed(2)}×); CLI CPU ${pair.map((r) => r.cpuS.toFixed(2)).join(' + ')}s, MariaDB CPU ${(pid ? cpuOfPid(pid) - db0 : Number.NaN).toFixed(2)}s
`)
}

/** Runs the built CLI; its peak RSS is read from /proc (VmHWM) while it runs. */
function runMeasured(args: string[], env: Record<string, string>): Promise<{code: number | null; stdout: string; stderr: string; ms: number; peakRss: number}> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, [RUN_JS, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let peak = 0
    const sample = () => {
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024)
      } catch {
        // The process has ended.
      }
    }
    const timer = setInterval(sample, 20)
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('exit', () => sample())
    child.on('close', (code) => {
      clearInterval(timer)
      resolve({code, stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6, peakRss: peak})
    })
  })
}
