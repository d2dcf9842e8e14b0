/**
 * `npm run bench -- prune [--rows 200000] [--young 20000] [--rate 500] [--seconds 15] [--days 10] [--only rate,impact,partitions] [--prune-args "--chunk-time 100ms"]
 *   [--configs "|--chunk-time 100ms|--sleep-coef 1"] [--repeat 2] [--no-contrast]`
 * --configs: prune settings (flag strings, | between them; an empty one is the defaults) measured in turn, each against
 * a workload-alone phase just before it, all --repeat times interleaved (the machine is noisy); the rate phase runs
 * pruneRows() with each of them too. --no-contrast leaves out the plain DELETE.
 * Measures outbox prune in one run, each figure against its raw reference measured beside it:
 *  - rate: pruneRows() over --rows old sent rows (and --young young sent and pending rows that must stay) against a raw
 *    loop of `SELECT id … LIMIT 1000` + `DELETE … WHERE id IN (…)` over the same rows; checks the rows left;
 *  - impact: an order-service workload (orders row + outbox row in one transaction, --rate per second, latency from each
 *    transaction's scheduled start, so queueing counts) with a drain beside it, p50/p99 without a prune, during
 *    `msgops outbox prune` (the CLI, its own process) and during one plain unbatched `DELETE … WHERE sent_at < …`;
 *  - partitions: --drop-partitions on a day-partitioned table of --rows rows against `ALTER TABLE … DROP PARTITION` by hand.
 */
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {readdirSync, readFileSync} from 'node:fs'
import {Parser} from '@oclif/core'
import mysql from 'mysql2/promise'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {MysqlAdapter} from '../src/adapters/mysql.js'
import {ConfirmPublisher} from '../src/adapters/publisher.js'
import {DEFAULTS} from '../src/config/defaults.js'
import type {Config} from '../src/config/schema.js'
import {drainOutbox} from '../src/core/outbox/drain.js'
import {ServerLoad} from '../src/core/prune/load.js'
import {planPrune, runPrune} from '../src/core/prune/plan.js'
import type {PruneOptions} from '../src/core/prune/run.js'
import {initSchema} from '../src/core/schema.js'
import {changeFlags, pruneFlags, pruneOptions} from '../src/flags.js'
import {cliEnv, createTestDatabase, createTestRedis, createTestVhost} from '../test/helpers/env.js'

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  const value = Number(args[i + 1])
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a positive integer`)
  return value
}

const RUN_JS = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const n = (v: number) => Math.round(v).toLocaleString('en-US')
const PAYLOAD = JSON.stringify({orderId: 'o-1', customerId: 'c-1', amount: 12.5, currency: 'EUR', items: [{sku: 'sku-1', qty: 1}]})

/** --rows old sent rows (ids o-…), then --young rows that must stay: young sent (y-) and old pending (p-). */
async function fill(conn: mysql.Connection, rows: number, young: number): Promise<void> {
  await conn.query('TRUNCATE TABLE outbox')
  for (let from = 1; from <= rows; from += 100_000) {
    const to = Math.min(rows, from + 99_999)
    await conn.query(`INSERT INTO outbox (id, aggregate_id, event_type, exchange, routing_key, payload, status, created_at, sent_at)
      SELECT CONCAT('o-', LPAD(seq, 9, '0')), CONCAT('c-', seq % 977), 'order.created', 'bench.x', 'order.created', ?, 'sent', NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 10 DAY + INTERVAL 1 SECOND FROM seq_${from}_to_${to}`, [PAYLOAD])
  }
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('y-', LPAD(seq, 9, '0')), ?, 'sent', NOW(3) - INTERVAL 1 DAY, NOW(3) - INTERVAL 1 DAY FROM seq_1_to_${Math.ceil(young / 2)}`, [PAYLOAD])
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at) SELECT CONCAT('p-', LPAD(seq, 9, '0')), ?, 'pending', NOW(3) - INTERVAL 10 DAY FROM seq_1_to_${Math.floor(young / 2)}`, [PAYLOAD])
}

async function leftOver(conn: mysql.Connection): Promise<Record<string, number>> {
  const [rows] = await conn.query('SELECT LEFT(id, 2) AS k, COUNT(*) AS n FROM outbox GROUP BY k')
  return Object.fromEntries((rows as {k: string; n: number}[]).map((r) => [r.k, Number(r.n)]))
}

/** The raw reference: fixed chunks of 1,000 keys read in key order, each deleted by id, nothing else. */
async function rawLoop(conn: mysql.Connection): Promise<number> {
  let after = ''
  let deleted = 0
  for (;;) {
    const [rows] = await conn.query("SELECT id FROM outbox WHERE id > ? AND status = 'sent' AND sent_at < NOW(3) - INTERVAL 7 DAY ORDER BY id LIMIT 1000", [after])
    const ids = (rows as {id: string}[]).map((r) => r.id)
    if (ids.length === 0) return deleted
    after = ids.at(-1)!
    const [result] = await conn.query('DELETE FROM outbox WHERE id IN (?)', [ids])
    deleted += (result as {affectedRows: number}).affectedRows
  }
}

/** Waits (at most 2 min) for InnoDB's purge to clean up the last run's deleted rows, so a run does not pay for the one before. */
async function settle(conn: mysql.Connection): Promise<void> {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    const [rows] = await conn.query("SELECT `COUNT` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'")
    if (Number((rows as {n: number}[])[0]?.n ?? 0) < 5000) return
    await new Promise((r) => setTimeout(r, 500))
  }
}

const pct = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))])

/** The order service: per transaction an orders row and its pending outbox row, started at a fixed rate until stop(). */
function orderService(pool: mysql.Pool, rate: number, tag: string): {stop(): Promise<{p50: number; p99: number; p999: number; max: number; count: number; timeline: [number, number][]}>} {
  const latencies: number[] = []
  const timeline: [number, number][] = []
  const inFlight = new Set<Promise<void>>()
  const start = performance.now()
  let i = 0
  let running = true
  const tick = async () => {
    while (running) {
      const due = start + (i * 1000) / rate
      const wait = due - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      if (!running) break
      const id = `${tag}-${i++}`
      const scheduled = due
      const work = (async () => {
        const conn = await pool.getConnection()
        try {
          await conn.beginTransaction()
          await conn.query('INSERT INTO orders (id, message_id, amount) VALUES (?, ?, 10)', [id, id])
          await conn.query("INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload, status) VALUES (?, 'order', ?, 'order.created', 'bench.x', 'order.created', ?, 'pending')", [id, id, PAYLOAD])
          await conn.commit()
          latencies.push(performance.now() - scheduled)
          timeline.push([scheduled, performance.now() - scheduled])
        } finally {
          conn.release()
        }
      })()
      inFlight.add(work)
      void work.finally(() => inFlight.delete(work))
    }
  }
  const loop = tick()
  return {
    async stop() {
      running = false
      await loop
      await Promise.all(inFlight)
      const sorted = [...latencies].sort((a, b) => a - b)
      return {p50: pct(sorted, 50), p99: pct(sorted, 99), p999: pct(sorted, 99.9), max: sorted.at(-1) ?? 0, count: sorted.length, timeline}
    },
  }
}

/** The relay beside it: drain runs back to back until stopped. */
function relay(sql: MysqlAdapter, publisher: ConfirmPublisher, config: Config): {stop(): Promise<number>} {
  let running = true
  let sent = 0
  const loop = (async () => {
    while (running) {
      const r = await drainOutbox({sql, publisher}, {config, olderThanMs: 1, batchSize: 200})
      sent += r.published
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return sent
    },
  }
}

function runCliProcess(args: string[], env: Record<string, string>): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN_JS, ...args], {env: {...process.env, ...env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

/** Server counters whose change over a phase says where the time went: lock waits, free-page waits, redo, reads. */
const COUNTERS = ['Innodb_row_lock_waits', 'Innodb_row_lock_time', 'Innodb_buffer_pool_wait_free', 'Innodb_log_waits', 'Innodb_buffer_pool_reads', 'Innodb_data_fsyncs', 'Innodb_os_log_written', 'Innodb_buffer_pool_pages_flushed']

async function counters(conn: mysql.Connection): Promise<Record<string, number>> {
  const [rows] = await conn.query(`SHOW GLOBAL STATUS WHERE Variable_name IN (${COUNTERS.map(() => '?').join(', ')})`, COUNTERS)
  return Object.fromEntries((rows as {Variable_name: string; Value: string}[]).map((r) => [r.Variable_name, Number(r.Value)]))
}

/** The machine's busy CPU time and the server process's, in clock ticks (/proc). */
function cpuTicks(): {busy: number; total: number; server: number} {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
  const values = fields.map(Number)
  const total = values.reduce((a, b) => a + b, 0)
  const idle = values[3] + (values[4] ?? 0)
  let server = 0
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      if (comm !== 'mariadbd' && comm !== 'mysqld') continue
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      server += Number(rest[11]) + Number(rest[12])
    } catch {}
  }
  return {busy: total - idle, total, server}
}

/** The first words of a statement, to name it (INSERT INTO outbox, DELETE FROM outbox, SELECT …). */
const kindOf = (q: unknown) => (q == null ? '(idle in trx)' : String(q).replace(/\s+/g, ' ').replace(/^(\w+ (INTO |FROM )?`?\w+`?).*/i, '$1').slice(0, 40))

/** Samples the purge backlog, Threads_running and the lock waits (who waits on whom, on which index) every 100 ms; the counters and CPU over the whole phase. */
function watch(conn: mysql.Connection): {stop(): Promise<string>} {
  let running = true
  let history = 0
  let threads = 0
  const waits = new Map<string, number>()
  const before = counters(conn)
  const cpu = cpuTicks()
  const loop = (async () => {
    while (running) {
      const [rows] = await conn.query("SELECT (SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len') AS h, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_RUNNING') AS t")
      const r = (rows as {h: number; t: string}[])[0]
      history = Math.max(history, Number(r.h))
      threads = Math.max(threads, Number(r.t))
      const [held] = await conn.query(`SELECT r.trx_query AS waiting, b.trx_query AS blocking, l.lock_mode AS mode, l.lock_index AS idx
        FROM information_schema.INNODB_LOCK_WAITS w JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
        JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.requested_lock_id`)
      for (const h of held as {waiting: unknown; blocking: unknown; mode: string; idx: string}[]) {
        const key = `${kindOf(h.waiting)} waits ${h.mode} on ${h.idx} for ${kindOf(h.blocking)}`
        waits.set(key, (waits.get(key) ?? 0) + 1)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      const a = await before
      const b = await counters(conn)
      const c = cpuTicks()
      const d = (k: string) => (b[k] ?? 0) - (a[k] ?? 0)
      const cores = (c.total - cpu.total) / 2
      return `cpu ${Math.round((100 * (c.busy - cpu.busy)) / (c.total - cpu.total))}% of 2 cores (server ${Math.round((100 * (c.server - cpu.server)) / cores)}% of one) · row lock waits ${d('Innodb_row_lock_waits')} (${d('Innodb_row_lock_time')} ms) · free-page waits ${d('Innodb_buffer_pool_wait_free')} · log waits ${d('Innodb_log_waits')} · page reads ${n(d('Innodb_buffer_pool_reads'))} · pages flushed ${n(d('Innodb_buffer_pool_pages_flushed'))} · redo ${(d('Innodb_os_log_written') / 1e6).toFixed(0)} MB, ${n(d('Innodb_data_fsyncs'))} fsyncs (data and redo) · max history ${n(history)} · max Threads_running ${threads}${[...waits].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `\n      lock wait seen ${v}×: ${k}`).join('')}`
    },
  }
}

/** How the slow transactions spread: in how many distinct 100 ms windows a transaction above the threshold started. */
function stalls(timeline: [number, number][], threshold: number): string {
  const slow = timeline.filter(([, ms]) => ms > threshold)
  const windows = new Set(slow.map(([at]) => Math.floor(at / 100)))
  return `${n(slow.length)} tx over ${threshold.toFixed(0)} ms, in ${n(windows.size)} 100-ms windows`
}

/** A prune setting as the CLI would parse it (its defaults, its validation), for the in-process rate phase. */
async function optionsOf(flagText: string): Promise<PruneOptions> {
  const {flags} = await Parser.parse(flagText.split(' ').filter(Boolean), {flags: {...pruneFlags, ...changeFlags}, strict: true})
  return pruneOptions(flags as Parameters<typeof pruneOptions>[0])
}

export async function main(args: string[]): Promise<void> {
  const rows = option(args, 'rows', 200_000)
  const young = option(args, 'young', Math.max(2, Math.round(rows / 10)))
  const rate = option(args, 'rate', 500)
  const seconds = option(args, 'seconds', 15)
  const days = option(args, 'days', 10)
  // The prune settings measured, e.g. --configs "|--chunk-time 100ms --sleep 20ms" (an empty one: the defaults); --prune-args: one of them.
  const flagValue = (name: string) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] ?? '' : undefined)
  const configs = (flagValue('configs') ?? flagValue('prune-args') ?? '').split('|').map((c) => c.trim())
  const repeat = option(args, 'repeat', 1)
  const contrast = !args.includes('--no-contrast')
  const phases = new Set((flagValue('only') ?? 'rate,impact,partitions').split(','))
  const options = await Promise.all(configs.map(optionsOf))
  const label = (c: string) => c || '(defaults)'
  const db = await createTestDatabase('msgops_bench_prune')
  const vhost = await createTestVhost('msgops_bench_prune')
  const redis = await createTestRedis('msgops_bench_prune')
  const config: Config = {...structuredClone(DEFAULTS), mysql: {url: db.url}, amqp: {url: vhost.amqpUrl}}
  const conn = await mysql.createConnection(db.url)
  const monitor = await mysql.createConnection(db.url)
  const sql = await MysqlAdapter.connect(db.url, 10_000, 4)
  const amqp = await AmqpAdapter.connect(vhost.amqpUrl, 10_000)
  const publisher = new ConfirmPublisher(amqp)
  const pool = mysql.createPool({uri: db.url, connectionLimit: 32})
  try {
    const setup = await amqp.channel()
    await setup.assertExchange('bench.x', 'topic', {durable: true})
    await setup.assertQueue('bench.q', {durable: true, arguments: {'x-max-length': 10_000}})
    await setup.bindQueue('bench.q', 'bench.x', '#')
    await setup.close()
    await initSchema(sql, config)
    process.stdout.write(`prune bench: ${n(rows)} old sent rows + ${n(young)} that must stay; workload ${rate}/s for ${seconds}s per phase; settings ${configs.map(label).join(' | ')} ×${repeat}\n`)

    const load = new ServerLoad(sql, [])
    const request = {kind: 'outbox' as const, config, olderThanMs: 7 * 86_400_000, rows: options[0]}
    let t = 0
    // Rate: the raw loop, then pruneRows with each setting, over the same rows.
    if (phases.has('rate')) for (let r = 0; r < repeat; r++) for (const [k, c] of configs.entries()) {
      await fill(conn, rows, young)
      await settle(conn)
      t = performance.now()
      const rawDeleted = await rawLoop(conn)
      const rawS = (performance.now() - t) / 1000
      await fill(conn, rows, young)
      await settle(conn)
      t = performance.now()
      const plan = await planPrune(sql, {...request, rows: options[k]})
      const planS = (performance.now() - t) / 1000
      const result = await runPrune(plan, {sql, load})
      const pruneS = (performance.now() - t) / 1000
      const left = await leftOver(conn)
      const exact = !left['o-'] && left['y-'] === Math.ceil(young / 2) && left['p-'] === Math.floor(young / 2)
      const deleted = result.mode === 'rows' ? result.deleted : 0
      process.stdout.write(`rate ${label(c)}: raw loop ${n(rawDeleted / rawS)} rows/s (${rawS.toFixed(1)}s) · prune ${n(deleted / pruneS)} rows/s (${pruneS.toFixed(1)}s incl. the count ${planS.toFixed(1)}s, ${n(deleted / (pruneS - planS))} rows/s without it; chunks ${result.mode === 'rows' ? `${result.chunks}, size ${result.chunkSize.first}→${result.chunkSize.last} (${result.chunkSize.smallest}-${result.chunkSize.largest}), pace ${result.pace.mode}: ${result.pace.politeChunks} polite, ${result.pace.fullChunks} full` : '-'}) · ratio ${((deleted / pruneS) / (rawDeleted / rawS)).toFixed(2)} (target ≥ 0.8) · rows left exact: ${exact ? 'yes' : `NO ${JSON.stringify(left)}`}\n`)
    }

    // Impact: the workload with its drain, alone, then during the CLI prune (per setting, each after its own
    // workload-alone phase), and during one unbatched DELETE.
    if (phases.has('impact')) {
      type Figures = Awaited<ReturnType<ReturnType<typeof orderService>['stop']>> & {sent: number; seconds: number; server: string}
      const phase = async (name: string, during?: () => Promise<void>): Promise<Figures> => {
        const watcher = watch(monitor)
        const service = orderService(pool, rate, `${name}${Date.now().toString(36)}`)
        const drain = relay(sql, publisher, config)
        const started = performance.now()
        if (during) await during()
        const rest = seconds * 1000 - (performance.now() - started)
        if (rest > 0) await new Promise((r) => setTimeout(r, rest))
        const figures = await service.stop()
        const sent = await drain.stop()
        return {...figures, sent, seconds: (performance.now() - started) / 1000, server: await watcher.stop()}
      }
      const line = (name: string, f: Figures) =>
        `  ${name.padEnd(34)} p50 ${f.p50.toFixed(1).padStart(6)} ms · p99 ${f.p99.toFixed(1).padStart(7)} ms · p99.9 ${f.p999.toFixed(0).padStart(5)} · max ${f.max.toFixed(0).padStart(5)} · ${n(f.count / f.seconds)} tx/s · drained ${n(f.sent)}\n      ${f.server}`
      const uptime = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
      const oldRows = async () => {
        await fill(conn, rows, young)
        // The rows that must stay are dead letters here: old pending ones would keep the drain beside the workload busy.
        await conn.query("UPDATE outbox SET status = 'dead_letter' WHERE id LIKE 'p-%'")
        await settle(conn)
      }
      await fill(conn, 0, 0)
      await settle(conn)
      // Warm-up, not measured: the pool's connections, the buffer pool, the broker's channel.
      await phase('warm')
      process.stdout.write('impact (order transactions, latency from their scheduled start):\n')
      const summary: string[] = []
      for (let r = 0; r < repeat; r++)
        for (const c of configs) {
          // The workload alone, on the loaded table, just before the prune: its own reference.
          await oldRows()
          const base = await phase('base')
          const loadBefore = uptime()
          let pruneRun = {code: null as number | null, stdout: '', stderr: ''}
          let pruneMs = 0
          const withPrune = await phase('prune', async () => {
            const s = performance.now()
            pruneRun = await runCliProcess(['outbox', 'prune', '--older-than', '7d', '--yes', '--json', ...c.split(' ').filter(Boolean)], cliEnv({db, vhost, redis}))
            pruneMs = performance.now() - s
          })
          let chunks = ''
          try {
            const out = JSON.parse(pruneRun.stdout) as {chunks: number; chunkSize: {smallest: number; largest: number; last: number}; deleted: number; pace?: {mode: string; politeChunks: number; fullChunks: number}}
            chunks = `${out.chunks} chunks ${out.chunkSize.smallest}-${out.chunkSize.largest} rows, ${n(out.deleted)} deleted${out.pace ? `, pace ${out.pace.mode}: ${out.pace.politeChunks} polite, ${out.pace.fullChunks} full` : ''}`
          } catch {}
          const ratio = withPrune.p99 / base.p99
          process.stdout.write(`${line('no prune', base)}\n      ${stalls(base.timeline, 2 * base.p99)}\n${line(label(c).slice(0, 34), withPrune)}\n      ${stalls(withPrune.timeline, 2 * base.p99)} · prune ${(pruneMs / 1000).toFixed(1)}s (${n((rows * 1000) / pruneMs)} rows/s), exit ${pruneRun.code}, ${chunks}\n  p99 with / without: ${ratio.toFixed(2)} (target ≤ 2) · load ${loadBefore} → ${uptime()}\n`)
          if (pruneRun.code !== 0) process.stdout.write(`  prune stderr: ${pruneRun.stderr.trim().split('\n').at(-1)}\n`)
          summary.push(`  ${label(c).padEnd(40)} p99 ${base.p99.toFixed(1)} → ${withPrune.p99.toFixed(1)} ms (${ratio.toFixed(2)}×), p50 ${base.p50.toFixed(1)} → ${withPrune.p50.toFixed(1)} ms, prune ${(pruneMs / 1000).toFixed(1)}s, load ${loadBefore}`)
        }
      if (contrast) {
        await oldRows()
        let deleteMs = 0
        const withDelete = await phase('delete', async () => {
          const s = performance.now()
          await conn.query("DELETE FROM outbox WHERE status = 'sent' AND sent_at < NOW(3) - INTERVAL 7 DAY")
          deleteMs = performance.now() - s
        })
        process.stdout.write(`${line('plain DELETE', withDelete)}  (DELETE ${(deleteMs / 1000).toFixed(1)}s)\n`)
      }
      process.stdout.write(`summary:\n${summary.join('\n')}\n`)
    }
    // Partitions: a day-partitioned outbox of --rows rows over --days past days.
    const partitioned = async () => {
      await conn.query('DROP TABLE outbox')
      await initSchema(sql, config, {aheadDays: 2, inbox: false})
      const [[{today}]] = (await conn.query("SELECT DATE_FORMAT(CURDATE(), '%Y-%m-%d') AS today")) as unknown as [{today: string}[]]
      const day = (k: number) => new Date(Date.parse(`${today}T00:00:00Z`) - k * 86_400_000).toISOString().slice(0, 10)
      const [parts] = await conn.query("SELECT PARTITION_NAME AS p FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outbox' ORDER BY PARTITION_ORDINAL_POSITION")
      const first = (parts as {p: string}[])[0].p
      const split = Array.from({length: days}, (_, k) => `PARTITION d${k} VALUES LESS THAN ('${day(days - k - 1)}')`)
      await conn.query(`ALTER TABLE outbox REORGANIZE PARTITION \`${first}\` INTO (${split.join(', ')})`)
      await conn.query('TRUNCATE TABLE outbox')
      const perDay = Math.ceil(rows / days)
      for (let k = 1; k <= days; k++)
        for (let from = 1; from <= perDay; from += 100_000)
          await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('d', ${k}, '-', seq), ?, 'sent', CURDATE() - INTERVAL ${k} DAY + INTERVAL (seq % 86000) SECOND, CURDATE() - INTERVAL ${k} DAY + INTERVAL (seq % 86000) SECOND FROM seq_${from}_to_${Math.min(perDay, from + 99_999)}`, [PAYLOAD])
    }
    // Drop everything older than 2 days: days - 2 partitions.
    if (!phases.has('partitions')) return
    await partitioned()
    t = performance.now()
    const dropPlan = await planPrune(sql, {...request, olderThanMs: 2 * 86_400_000, dropPartitions: true})
    const dropped = await runPrune(dropPlan, {sql, load})
    const oursMs = performance.now() - t
    const names = dropped.mode === 'partitions' ? dropped.dropped : []
    await partitioned()
    const [byHand] = await conn.query("SELECT PARTITION_NAME AS p FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'outbox' ORDER BY PARTITION_ORDINAL_POSITION")
    const handNames = (byHand as {p: string}[]).slice(0, names.length).map((r) => r.p)
    t = performance.now()
    await conn.query(`ALTER TABLE outbox DROP PARTITION ${handNames.map((p) => `\`${p}\``).join(', ')}`)
    const handMs = performance.now() - t
    process.stdout.write(`partitions: --drop-partitions ${names.length} of ${days} day partitions (~${n(dropped.mode === 'partitions' ? dropped.droppedRows : 0)} rows of ${n(rows)}) in ${oursMs.toFixed(0)} ms (read, checks under LOCK TABLES, ALTER) · ALTER TABLE … DROP PARTITION by hand ${handMs.toFixed(0)} ms · ratio ${(oursMs / handMs).toFixed(2)}\n`)
  } finally {
    await pool.end()
    await publisher.close().catch(() => {})
    await amqp.close().catch(() => {})
    await sql.close()
    await conn.end()
    await monitor.end()
    await db.drop()
    await vhost.drop()
    await redis.cleanup()
  }
}
