/**
 * `npm run bench -- trace [--rows 1000000] [--runs 5] [--keep] [--database NAME] [--load-only]`
 *
 * Loads N orders, each with its outbox row (sent) and an inbox record (processed), server side (MariaDB's sequence
 * engine, in chunks), then in the same run measures, warm, --runs times in turn:
 *   one id:    the core trace (src/core/trace/run.ts, with the CLI's adapters: MySQL, Redis, management API) of one
 *              order id, against the raw primary-key lookups of the same rows (order, outbox row, inbox records by
 *              their keys, one after the other, as a person would type them) plus the Redis GET;
 *   1,000 ids: one trace run of 1,000 order ids, against the same raw lookups batched (one IN list per table, MGET).
 * Prints the medians and the ratios (target ≤ 2× the raw lookups), the process start of `msgops trace ID` apart
 * (the CLI run minus the in-process time), and the audit write cost: writeAudit with 0, 1,000, 10,000 and 100,000
 * ids against the drain's own writes for as many rows (UPDATE … WHERE id IN (500 ids) per batch, as drain does).
 * The default is 1,000,000 rows; the issue asks for 10,000,000: `--rows 10000000 --keep` (or `--database NAME` of a
 * database that does not exist yet: it is made and kept), then `--database NAME` for each run. The loader is the
 * reconcile bench's way (bench/_load.ts): INSERT … SELECT from MariaDB's sequence tables in chunks of 500,000, the
 * indexes that begin with a time column dropped for the load and added back after it, one ALTER per table; the tables
 * then have exactly the schema's keys (checked, on a kept database too), and the bench prints EXPLAIN of the
 * statements one trace sends. --load-only stops after the load (and keeps the database).
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Redis} from 'ioredis'

import {RedisCache} from '../src/adapters/cache.js'
import {ManagementClient} from '../src/adapters/management.js'
import {MysqlAdapter} from '../src/adapters/mysql.js'
import {RedisAdapter} from '../src/adapters/redis.js'
import {DEFAULTS} from '../src/config/defaults.js'
import {TouchedIds, withIds, writeAudit} from '../src/core/audit.js'
import {initSchema} from '../src/core/schema.js'
import {traceIds} from '../src/core/trace/run.js'
import {addMissingKeys, dropTimeIndexes, keyDifferences, LOAD_CHUNK} from './_load.js'
import {dropKeys} from '../test/helpers/env.js'

const MYSQL_ROOT = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const MANAGEMENT_URL = process.env.BENCH_MANAGEMENT_URL ?? DEFAULTS.management.url
const RUN_JS = fileURLToPath(new URL('../bin/run.js', import.meta.url))

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint()
  await work()
  return Number(process.hrtime.bigint() - started) / 1e6
}

const oid = (i: number) => `o${String(i).padStart(9, '0')}`
const mid = (i: number) => `m${String(i).padStart(9, '0')}`

export async function main(args: string[]): Promise<void> {
  const requested = Number(arg(args, '--rows', '1000000'))
  const runs = Number(arg(args, '--runs', '5'))
  if (!Number.isInteger(requested) || requested < 10_000) throw new Error('--rows must be an integer of at least 10000')
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer')
  const named = arg(args, '--database', '')
  if (named && !/^[A-Za-z0-9_]{1,64}$/.test(named)) throw new Error('--database must be a database name (letters, digits, _)')
  const keep = args.includes('--keep') || args.includes('--load-only') || named !== ''
  const dbName = named || `msgops_bench_trace_${randomBytes(3).toString('hex')}`
  const prefix = `${dbName}:`
  const url = new URL(MYSQL_ROOT)
  const root = await MysqlAdapter.connect(MYSQL_ROOT, 5000, 1, 3_600_000)
  // --database of a database that does not exist yet: it is made, loaded and kept.
  const reuse = named !== '' && (await root.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [named])).length > 0
  if (!reuse) await root.execute(`CREATE DATABASE \`${dbName}\``)
  await root.close()
  url.pathname = `/${dbName}`
  const sql = await MysqlAdapter.connect(url.toString(), 5000, 4, 3_600_000)
  const started = loadavg()
  const redisAdapter = await RedisAdapter.connect(REDIS_URL, 5000)
  const redis = new Redis(REDIS_URL)
  const config = {...DEFAULTS, mysql: {url: url.toString()}, cache: {...DEFAULTS.cache, keyPattern: `${prefix}order:{id}`}}
  const configFile = join(tmpdir(), `${dbName}.yaml`)
  writeFileSync(configFile, `cache:\n  keyPattern: "${prefix}order:{id}"\n`)
  try {
    let rows = requested
    if (reuse) {
      // A kept database: each table's ids are o/m000000000… in key order, so the highest tells how many rows it holds
      // (a load cut short leaves the tables at different counts: the ids traced are those all three hold).
      const [top] = await sql.query<{o: string | null; x: string | null; i: string | null}>('SELECT (SELECT MAX(id) FROM orders) AS o, (SELECT MAX(id) FROM outbox) AS x, (SELECT MAX(message_id) FROM inbox) AS i')
      const count = (v: string | null) => (v ? Number(String(v).slice(1)) + 1 : 0)
      const counts = [count(top?.o ?? null), count(top?.x ?? null), count(top?.i ?? null)]
      rows = Math.min(...counts)
      process.stdout.write(`tables: orders ${counts[0].toLocaleString('en')}, outbox ${counts[1].toLocaleString('en')}, inbox ${counts[2].toLocaleString('en')} rows\n`)
      if (rows < 10_000) throw new Error(`database ${dbName} holds no trace bench data`)
      // A load cut short after the time indexes were dropped: add them back, so the lookups are those of the schema.
      if ((await keyDifferences(sql, config)).length > 0) await addMissingKeys(sql, config, (line) => process.stderr.write(`  ${line}\n`))
      process.stdout.write(`trace bench: reusing ${rows.toLocaleString('en')} orders, outbox rows and inbox records of database ${dbName}\n`)
    } else {
      process.stdout.write(`trace bench: ${rows.toLocaleString('en')} orders, outbox rows and inbox records, database ${dbName}\n`)
      await initSchema(sql, config)
      await dropTimeIndexes(sql, config)
      const loadStart = Date.now()
      await load(sql, rows)
      const loaded = (Date.now() - loadStart) / 1000
      await addMissingKeys(sql, config, (line) => process.stderr.write(`  ${line}\n`))
      const indexed = (Date.now() - loadStart) / 1000 - loaded
      await sql.execute('ANALYZE TABLE orders, outbox, inbox')
      const total = (Date.now() - loadStart) / 1000
      process.stdout.write(
        `loaded in ${total.toFixed(1)}s: rows ${loaded.toFixed(1)}s (${Math.round(rows / loaded).toLocaleString('en')} orders/s with their outbox rows and inbox records), time indexes ${indexed.toFixed(1)}s, ANALYZE ${(total - loaded - indexed).toFixed(1)}s\n`,
      )
    }
    const differences = await keyDifferences(sql, config)
    if (differences.length > 0) throw new Error(`the tables' keys are not the schema's: ${differences.join('; ')}`)
    process.stdout.write("keys: exactly the schema's (information_schema against referenceDdl)\n")
    if (args.includes('--load-only')) return

    const measuring = loadavg()
    const pick = (n: number) => Array.from({length: n}, () => Math.floor(Math.random() * rows))
    const cache = new RedisCache(redisAdapter, 'string', 'status')
    const ports = {sql, cache, broker: {management: new ManagementClient(MANAGEMENT_URL, 5000), deadLetters: async () => { throw new Error('not read') }}}
    const options = {kind: 'auto' as const, graceMs: 300_000, broker: {vhost: '/', scanAll: false, limit: 10_000, idleMs: 2000, errorHeaders: []}}
    const traceOf = async (ids: string[]) => {
      let n = 0
      for await (const batch of traceIds(ports, config, options, ids)) for (const t of batch) if (t.verdict.state === 'consistent') n++
      if (n !== ids.length) throw new Error(`${ids.length - n} of ${ids.length} traces were not consistent`)
    }
    const rawOne = async (i: number) => {
      await sql.query('SELECT * FROM orders WHERE id = ?', [oid(i)])
      await sql.query('SELECT * FROM outbox WHERE id = ?', [mid(i)])
      await sql.query('SELECT * FROM inbox WHERE message_id = ?', [mid(i)])
      await redis.get(`${prefix}order:${oid(i)}`)
    }
    const rawMany = async (list: number[]) => {
      await sql.query('SELECT * FROM orders WHERE id IN (?)', [list.map(oid)])
      await sql.query('SELECT * FROM outbox WHERE id IN (?)', [list.map(mid)])
      await sql.query('SELECT * FROM inbox WHERE message_id IN (?)', [list.map(mid)])
      await redis.mget(list.map((i) => `${prefix}order:${oid(i)}`))
    }
    // Warm: one untimed round of each (and the cache keys of every id measured).
    const sets = Array.from({length: runs + 1}, () => pick(1000))
    for (const set of sets) await redis.mset(...set.flatMap((i) => [`${prefix}order:${oid(i)}`, 'paid']))
    await rawMany(sets[0])
    await traceOf(sets[0].map(oid))
    await explainTrace(sql, ports, config, options, oid(sets[0][0]))

    const one: {raw: number; trace: number}[] = []
    const many: {raw: number; trace: number}[] = []
    for (let run = 1; run <= runs; run++) {
      for (const i of sets[run].slice(0, 20)) one.push({raw: await timed(() => rawOne(i)), trace: await timed(() => traceOf([oid(i)]))})
      many.push({raw: await timed(() => rawMany(sets[run])), trace: await timed(() => traceOf(sets[run].map(oid)))})
    }
    const oneRaw = median(one.map((p) => p.raw))
    const oneTrace = median(one.map((p) => p.trace))
    const manyRaw = median(many.map((p) => p.raw))
    const manyTrace = median(many.map((p) => p.trace))

    // The CLI as a person runs it: the process start is what it adds to the in-process time.
    const env: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MSGOPS_')) env[k] = v
    Object.assign(env, {MSGOPS_MYSQL_URL: url.toString(), MSGOPS_REDIS_URL: REDIS_URL, NO_COLOR: '1'})
    // One untimed run first: after a build the CLI compiles its bundle and writes a V8 code cache (src/compile-cache.ts),
    // which every later run reads; the runs timed are those later ones.
    const first = await runCli(['trace', oid(sets[1][0]), '--json', '--config', configFile], env)
    const cli: number[] = []
    for (const i of sets[1].slice(0, Math.max(3, runs))) cli.push(await runCli(['trace', oid(i), '--json', '--config', configFile], env))
    const version: number[] = []
    for (let n = 0; n < Math.max(3, runs); n++) version.push(await runCli(['--version'], env))

    process.stdout.write(
      [
        `one id     trace ${oneTrace.toFixed(1)} ms, raw PK lookups ${oneRaw.toFixed(1)} ms: ${(oneTrace / oneRaw).toFixed(2)}× (median of ${one.length}; target ≤ 2, and < 300 ms)`,
        `1,000 ids  trace ${manyTrace.toFixed(0)} ms, raw batched lookups ${manyRaw.toFixed(0)} ms: ${(manyTrace / manyRaw).toFixed(2)}× (median of ${many.length}; target ≤ 2)`,
        `CLI        msgops trace ID --json ${median(cli).toFixed(0)} ms wall (median of ${cli.length}; target < 300; the untimed first run ${first.toFixed(0)} ms); of which the process start (msgops --version) ${median(version).toFixed(0)} ms`,
      ].join('\n') + '\n',
    )
    const la = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ')
    process.stdout.write(`load average: ${la(started)} at the start, ${la(measuring)} when measuring began, ${la(loadavg())} at the end\n`)
    await auditCost(sql, runs)
  } finally {
    if (keep) process.stdout.write(`kept database ${dbName} and Redis prefix ${prefix} (--database ${dbName} runs again on it)\n`)
    else {
      await sql.execute(`DROP DATABASE IF EXISTS \`${dbName}\``).catch(() => {})
      await dropKeys(redis, prefix)
    }
    await sql.close()
    await redisAdapter.close()
    redis.disconnect()
    rmSync(configFile, {force: true})
  }
}

/**
 * The three tables filled server side from MariaDB's sequence engine in chunks of LOAD_CHUNK, each table's chunks on
 * its own connection, the three side by side (the server then works on both cores); ids in key order, so every key
 * left during the load (bench/_load.ts drops the time indexes) grows at its end.
 */
async function load(sql: MysqlAdapter, rows: number): Promise<void> {
  const at = 'NOW(3) - INTERVAL 1 DAY + INTERVAL (seq MOD 3600) SECOND'
  const tables = [
    (seq: string) => `INSERT INTO orders (id, message_id, status, created_at, updated_at) SELECT CONCAT('o', LPAD(seq, 9, '0')), CONCAT('m', LPAD(seq, 9, '0')), 'paid', ${at}, ${at} FROM ${seq}`,
    (seq: string) =>
      `INSERT INTO outbox (id, aggregate_type, aggregate_id, event_type, exchange, routing_key, payload, status, attempts, created_at, sent_at) SELECT CONCAT('m', LPAD(seq, 9, '0')), 'order', CONCAT('o', LPAD(seq, 9, '0')), 'order.paid', 'msgops.bench.none', 'order.paid', '{}', 'sent', 1, ${at}, ${at} FROM ${seq}`,
    (seq: string) => `INSERT INTO inbox (message_id, consumer, status, received_at, processed_at) SELECT CONCAT('m', LPAD(seq, 9, '0')), 'billing', 'processed', ${at}, ${at} FROM ${seq}`,
  ]
  const done = [0, 0, 0]
  const started = Date.now()
  await Promise.all(tables.map(async (statement, t) => {
    for (let start = 0; start < rows; start += LOAD_CHUNK) {
      const end = Math.min(rows, start + LOAD_CHUNK) - 1
      await sql.execute(statement(`seq_${start}_to_${end}`))
      done[t] = end + 1
      process.stderr.write(`  loaded ${done.map((n) => n.toLocaleString('en')).join(' / ')} (orders / outbox / inbox) in ${((Date.now() - started) / 1000).toFixed(0)}s\n`)
    }
  }))
}

/**
 * EXPLAIN of every SELECT one trace of one id sends (recorded through a wrapper of the SQL port), one line per table
 * of each plan: the access type, the key and the rows the optimizer expects. A full scan of a loaded table throws.
 */
async function explainTrace(sql: MysqlAdapter, ports: Parameters<typeof traceIds>[0], config: Parameters<typeof traceIds>[1], options: Parameters<typeof traceIds>[2], id: string): Promise<void> {
  const sent: {statement: string; params: unknown[]}[] = []
  const recording = {
    query: <T extends Record<string, unknown>>(statement: string, params: unknown[] = []) => {
      sent.push({statement, params})
      return sql.query<T>(statement, params)
    },
    execute: (statement: string, params?: unknown[]) => sql.execute(statement, params),
    transaction: sql.transaction.bind(sql),
    version: () => sql.version(),
  }
  for await (const _batch of traceIds({...ports, sql: recording}, config, options, [id])) {
    // drained
  }
  const lines = [`EXPLAIN of the ${sent.length} statements one trace sends:`]
  const scans: string[] = []
  for (const {statement, params} of sent) {
    if (!/^\s*(SELECT|\()/i.test(statement)) continue
    const short = statement.replace(/\s+/g, ' ').replace(/SELECT .*? FROM/, 'SELECT … FROM').slice(0, 90)
    lines.push(`  ${short}`)
    type Plan = {table: string | null; type: string | null; key: string | null; rows: number | string | null; Extra: string | null}
    // The audit tables exist once an audited command (or this bench's audit cost) wrote to them; trace reads around that.
    const plan = await sql.query<Plan>(`EXPLAIN ${statement}`, params).catch((error: unknown) => {
      if (!/doesn't exist/.test(String(error))) throw error
      lines.push(`    (${String(error).replace(/^.*?: /, '')})`)
      return [] as Plan[]
    })
    for (const r of plan) {
      lines.push(r.table === null ? `    ${r.Extra}` : `    ${r.table.padEnd(14)} ${String(r.type).padEnd(7)} key ${String(r.key).padEnd(28)} rows ${r.rows}`)
      if (r.type === 'ALL' && ['orders', 'outbox', 'inbox'].includes(String(r.table))) scans.push(`${r.table} in ${short}`)
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  if (scans.length > 0) throw new Error(`full scans: ${scans.join('; ')}`)
}

/** writeAudit with n ids against the drain's writes for n rows (sent, sent_at, in batches of 500), on the loaded outbox. */
async function auditCost(sql: MysqlAdapter, runs: number): Promise<void> {
  const lines = ['audit write cost (median of runs; the drain writes its rows anyway, the ids are what the audit adds):']
  let offset = 0
  for (const n of [0, 1000, 10_000, 100_000]) {
    const audit: number[] = []
    const drain: number[] = []
    for (let run = 0; run < Math.min(runs, 3); run++) {
      const ids = Array.from({length: n}, (_x, i) => mid(offset + i))
      offset += n
      const touched = new TouchedIds().add('drain', ids)
      audit.push(await timed(() => writeAudit(sql, 'msgops_audit', {command: 'outbox:drain', argv: [], outcome: withIds({published: n}, touched), exitCode: 0})))
      if (n > 0)
        drain.push(await timed(async () => {
          for (let i = 0; i < ids.length; i += 500) await sql.execute("UPDATE outbox SET status = 'sent', sent_at = NOW(3) WHERE id IN (?)", [ids.slice(i, i + 500)])
        }))
    }
    const a = median(audit)
    lines.push(n === 0 ? `  0 ids        ${a.toFixed(1)} ms (the audit row alone)` : `  ${n.toLocaleString('en').padEnd(12)} ${a.toFixed(0)} ms, ${((a * 1000) / n).toFixed(1)} µs per id; the drain's UPDATEs for as many rows ${median(drain).toFixed(0)} ms: +${((a / median(drain)) * 100).toFixed(0)}%`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
}

function runCli(args: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, [RUN_JS, ...args], {env, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`msgops ${args.join(' ')} exited ${code}: ${stderr}`))))
  })
}
