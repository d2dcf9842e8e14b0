/**
 * `npm run bench -- order-insert [--orders 5000] [--runs 9] [--block 250] [--clients 1,8] [--rows 1000000] [--reads 5] [--keep]`
 *
 * What a second index on the outbox id (`idx_outbox_id`, the one doctor prints) costs the order service, and what it
 * buys reconcile, on the same data in the same run. Two databases get the reference schema (referenceDdl): A with
 * idx_outbox_id added, B as is (without it); both are filled with the same --rows orders and outbox rows (ids spread evenly over the
 * space random UUIDs fall in, loaded in key order), then:
 *   insert: the order-service path — one transaction: INSERT the order row, INSERT its outbox row (random UUIDs,
 *   as an application makes them), COMMIT — from C concurrent clients for N orders, A and B alternated (ABBA) over
 *   --runs rounds. Printed per database: orders/s, p50 and p99 of the transaction's latency (START TRANSACTION to the
 *   COMMIT's answer); per round the ratio A/B; the median ratio with its range. B is the reference (no index).
 *   Within a round A and B take turns every --block orders, so that both see the same load of the shared machine.
 *   read: reconcile's merge read of every outbox id (keyPage, the merge's own packed pages of 10,000, in key order),
 *   from idx_outbox_id in A and from the primary key in B, alternated --reads times; median time and pages InnoDB
 *   read from the disk meanwhile (a server-wide counter: other work on the server adds to it).
 * Needs the shared MariaDB only; both databases are dropped at the end unless --keep.
 */
import {randomUUID} from 'node:crypto'
import {loadavg} from 'node:os'
import mysql from 'mysql2/promise'

import {DEFAULTS} from '../src/config/defaults.js'
import type {SqlExecutor} from '../src/core/ports.js'
import {keyPage} from '../src/core/reconcile/merge.js'
import {referenceDdl} from '../src/core/schema.js'
import {createTestDatabase, type TestDatabase} from '../test/helpers/env.js'
import {option} from './drain.js'
import {waitForFlush} from './reconcile.js'

const LOAD_CHUNK = 50_000
const PAGE = 10_000

function clientCounts(args: string[]): number[] {
  const i = args.indexOf('--clients')
  const text = i < 0 ? '1,8' : (args[i + 1] ?? '')
  const counts = text.split(',').map(Number)
  if (counts.length === 0 || counts.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--clients needs a list of positive integers, e.g. 1,8')
  return counts
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
}
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits})

/** An id for row `seq` of `rows`: its first 8 hex digits spaced evenly (so a key-order load is an append), the rest from MD5. */
function preloadId(seq: string, salt: string, rows: number): string {
  const h = `MD5(CONCAT('${salt}', ${seq}))`
  return `LOWER(CONCAT(LPAD(HEX(FLOOR(${seq} * 4294967295 / ${rows})), 8, '0'), '-', SUBSTR(${h}, 1, 4), '-4', SUBSTR(${h}, 5, 3), '-a', SUBSTR(${h}, 8, 3), '-', SUBSTR(${h}, 11, 12)))`
}

function payload(order: string, amount: number): string {
  return JSON.stringify({orderId: order, customerId: `c-${Math.floor(amount * 100) % 977}`, amount, currency: 'EUR', items: [{sku: `sku-${Math.floor(amount) % 131}`, qty: 1}], status: 'created'})
}

interface Side {
  name: 'A' | 'B'
  label: string
  db: TestDatabase
  pool: mysql.Pool
}

async function fill(side: Side, rows: number): Promise<void> {
  const outboxId = preloadId('seq', 'm', rows)
  const orderIdExpr = preloadId('seq', 'o', rows)
  for (let from = 1; from <= rows; from += LOAD_CHUNK) {
    const to = Math.min(rows, from + LOAD_CHUNK - 1)
    // In seq order, which is key order for both tables: each chunk appends to the primary keys.
    await side.pool.query(
      `INSERT INTO orders (id, message_id, status, amount, created_at, updated_at)
       SELECT ${orderIdExpr}, ${outboxId}, 'paid', (seq % 50000) / 100 + 1, NOW(3) - INTERVAL (seq % 86400) SECOND, NOW(3) - INTERVAL (seq % 86400) SECOND
       FROM seq_${from}_to_${to}`,
    )
    await side.pool.query(
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload, status, created_at, sent_at)
       SELECT ${outboxId}, 'order', ${orderIdExpr}, 'order.created', 'orders', 'order.created',
              JSON_OBJECT('orderId', ${orderIdExpr}, 'customerId', CONCAT('c-', seq % 977), 'amount', (seq % 50000) / 100 + 1, 'currency', 'EUR',
                          'items', JSON_ARRAY(JSON_OBJECT('sku', CONCAT('sku-', seq % 131), 'qty', 1)), 'status', 'created'),
              'sent', NOW(3) - INTERVAL (seq % 86400) SECOND, NOW(3) - INTERVAL (seq % 86400) SECOND
       FROM seq_${from}_to_${to}`,
    )
    process.stderr.write(`  ${side.name}: loaded ${fmt(to)}…\r`)
  }
  await side.pool.query('ANALYZE TABLE orders, outbox')
}

/** The order service: `clients` connections, each committing one order + its outbox row per transaction, `orders` in all. */
async function insertRound(side: Side, clients: number, orders: number): Promise<{seconds: number; latencies: number[]}> {
  const latencies: number[] = []
  let next = 0
  const connections = await Promise.all(Array.from({length: clients}, () => side.pool.getConnection()))
  const started = performance.now()
  await Promise.all(
    connections.map(async (conn) => {
      while (next < orders) {
        next++
        const order = randomUUID()
        const message = randomUUID()
        const amount = Math.round(Math.random() * 50_000) / 100 + 1
        const t0 = performance.now()
        await conn.query('START TRANSACTION')
        await conn.query('INSERT INTO orders (id, message_id, status, amount) VALUES (?, ?, ?, ?)', [order, message, 'created', amount])
        await conn.query(
          'INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [message, 'order', order, 'order.created', 'orders', 'order.created', payload(order, amount)],
        )
        await conn.query('COMMIT')
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  for (const conn of connections) conn.release()
  return {seconds, latencies}
}

async function diskReads(pool: mysql.Pool): Promise<number> {
  const [rows] = (await pool.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'")) as unknown as [{Value: string}[]]
  return Number(rows[0]?.Value ?? 0)
}

/** Reconcile's merge read of the outbox ids: the merge's own packed pages, from the narrow index when `index` is given. */
async function readIds(side: Side, index: string | undefined): Promise<{ms: number; keys: number; pagesFromDisk: number}> {
  const sql: SqlExecutor = {
    query: async (text: string, params?: unknown[]) => (await side.pool.query(text, params))[0] as never,
    execute: async () => {
      throw new Error('unused')
    },
  }
  const before = await diskReads(side.pool)
  const started = performance.now()
  let after: string | null = null
  let keys = 0
  for (;;) {
    const page = await keyPage(sql, {table: 'outbox', column: 'id', index}, after, null, PAGE)
    if (page.last === null) break
    keys += page.keys.count
    after = page.last
  }
  const ms = performance.now() - started
  return {ms, keys, pagesFromDisk: (await diskReads(side.pool)) - before}
}

export async function main(args: string[]): Promise<void> {
  const orders = option(args, 'orders', 5000)
  const runs = option(args, 'runs', 9)
  const rows = option(args, 'rows', 1_000_000)
  const reads = option(args, 'reads', 5)
  const block = option(args, 'block', 250)
  const clients = clientCounts(args)
  const keep = args.includes('--keep')
  const poolSize = Math.max(...clients)

  const sides: Side[] = []
  try {
    for (const [name, label] of [['A', 'with idx_outbox_id'], ['B', 'without idx_outbox_id']] as const) {
      const db = await createTestDatabase(`msgops_bench_oi${name.toLowerCase()}`)
      const pool = mysql.createPool({uri: db.url, connectionLimit: poolSize})
      sides.push({name, label, db, pool})
    }
    const [a, b] = sides
    for (const side of sides) for (const statement of referenceDdl(DEFAULTS)) await side.pool.query(statement)
    await a.pool.query('CREATE INDEX idx_outbox_id ON outbox (id)')
    const [[server]] = (await a.pool.query('SELECT VERSION() AS version, @@innodb_buffer_pool_size AS pool, @@innodb_flush_log_at_trx_commit AS flush')) as unknown as [[{version: string; pool: number; flush: number}]]
    process.stdout.write(
      `order-insert bench: databases A ${a.db.name} (reference schema + idx_outbox_id), B ${b.db.name} (reference schema); MariaDB ${server.version}, ` +
        `buffer pool ${Math.round(Number(server.pool) / 1048576)} MB, innodb_flush_log_at_trx_commit=${server.flush}\n`,
    )

    const loadStart = Date.now()
    for (const side of sides) await fill(side, rows)
    process.stdout.write(`loaded ${fmt(rows)} orders + outbox rows into each in ${((Date.now() - loadStart) / 1000).toFixed(1)} s; `)
    process.stdout.write(`flushed in ${((await waitForFlush(a.pool, 120_000)).ms / 1000).toFixed(1)} s\n`)
    for (const side of sides) {
      const [sizes] = (await side.pool.query(
        "SELECT INDEX_NAME AS name, STAT_VALUE AS pages FROM mysql.innodb_index_stats WHERE database_name = DATABASE() AND table_name = 'outbox' AND stat_name = 'size' ORDER BY INDEX_NAME",
      )) as unknown as [{name: string; pages: number}[]]
      process.stdout.write(`  ${side.name} outbox indexes (MB): ${sizes.map((s) => `${s.name} ${fmt((Number(s.pages) * 16) / 1024)}`).join(', ')}\n`)
    }

    // One untimed round of each, so that neither side is measured with a cold pool or a fresh connection.
    for (const side of sides) await insertRound(side, poolSize, Math.min(orders, 1000))

    process.stdout.write(`\ninsert: one transaction per order (INSERT order, INSERT outbox row, COMMIT), ${fmt(orders)} orders per database per round, ${runs} rounds, A and B taking turns every ${fmt(block)} orders\n`)
    const summary: string[] = []
    for (const c of clients) {
      const rates: Record<'A' | 'B', number[]> = {A: [], B: []}
      const lat: Record<'A' | 'B', number[]> = {A: [], B: []}
      const ratios: number[] = []
      for (let run = 0; run < runs; run++) {
        // Blocks of --block orders, A and B alternated ABBA…: the machine's load changes over seconds, and both see it.
        const seconds: Record<'A' | 'B', number> = {A: 0, B: 0}
        for (let done = 0, k = run; done < orders; done += block, k++) {
          const n = Math.min(block, orders - done)
          for (const side of k % 2 === 0 ? [a, b] : [b, a]) {
            const r = await insertRound(side, c, n)
            seconds[side.name] += r.seconds
            lat[side.name].push(...r.latencies)
          }
        }
        const got = {A: orders / seconds.A, B: orders / seconds.B}
        rates.A.push(got.A)
        rates.B.push(got.B)
        ratios.push(got.A / got.B)
        process.stdout.write(`  ${c} client${c > 1 ? 's' : ''}, round ${run + 1}: A ${fmt(got.A)} orders/s, B ${fmt(got.B)} orders/s, A/B ${ratios.at(-1)!.toFixed(3)}\n`)
      }
      for (const side of sides) {
        const sorted = lat[side.name].sort((x, y) => x - y)
        summary.push(
          `  ${c} client${c > 1 ? 's' : ''}  ${side.name} ${side.label.padEnd(22)} ${fmt(median(rates[side.name])).padStart(6)} orders/s (median; rounds ${fmt(Math.min(...rates[side.name]))}–${fmt(Math.max(...rates[side.name]))})` +
            `  p50 ${percentile(sorted, 0.5).toFixed(2)} ms  p99 ${percentile(sorted, 0.99).toFixed(2)} ms`,
        )
      }
      summary.push(`  ${c} client${c > 1 ? 's' : ''}  ratio A/B (with index / without): ${median(ratios).toFixed(3)} median of ${runs} rounds (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`)
    }

    const total = rows + (1 + runs * clients.length) * orders
    process.stdout.write(`\nread: every outbox id as reconcile's merge reads it (pages of ${fmt(PAGE)}), about ${fmt(total)} rows, ${reads} times each, alternated\n`)
    const readMs: Record<'A' | 'B', number[]> = {A: [], B: []}
    const readPages: Record<'A' | 'B', number[]> = {A: [], B: []}
    for (let run = 0; run < reads; run++) {
      for (const side of run % 2 === 0 ? [a, b] : [b, a]) {
        const r = await readIds(side, side === a ? 'idx_outbox_id' : undefined)
        readMs[side.name].push(r.ms)
        readPages[side.name].push(r.pagesFromDisk)
        process.stdout.write(`  ${side.name} ${side === a ? 'idx_outbox_id' : 'PRIMARY      '} ${fmt(r.keys)} ids in ${(r.ms / 1000).toFixed(2)} s, ${fmt(r.pagesFromDisk)} pages read from the disk\n`)
      }
    }

    process.stdout.write(`\nsummary (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n${summary.join('\n')}\n`)
    for (const side of sides) {
      process.stdout.write(
        `  read  ${side.name} ${side === a ? 'from idx_outbox_id' : 'from PRIMARY      '}  ${(median(readMs[side.name]) / 1000).toFixed(2)} s median (${(Math.min(...readMs[side.name]) / 1000).toFixed(2)}–${(Math.max(...readMs[side.name]) / 1000).toFixed(2)}), ` +
          `${fmt(median(readPages[side.name]))} pages from the disk (median)\n`,
      )
    }
    process.stdout.write(`  read  ratio A/B (with index / without): ${(median(readMs.A) / median(readMs.B)).toFixed(2)}\n`)
  } finally {
    for (const side of sides) {
      await side.pool.end().catch(() => {})
      if (keep) process.stdout.write(`kept database ${side.db.name}\n`)
      else await side.db.drop().catch(() => {})
    }
  }
}
