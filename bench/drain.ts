/**
 * `npm run bench -- drain [--rows 100000] [--rounds 3] [--batch 500[,1000]] [--in-flight 3[,4,6]] [--window 1000]
 *                          [--properties] [--mark-drained] [--trace] [--parts 2] [--prefix NAME] [--profile FILE]`
 * Fills an outbox with pending rows, then measures in the same run, in alternating order over --rounds rounds:
 *  - the anchor: bare confirmed publishes (persistent, mandatory, a message id and nothing else) of the same payloads
 *    with amqplib, a sliding window of --window unconfirmed;
 *  - the same publishes with exactly the properties the drain sends (toMessage of a row), and with --properties each
 *    property the drain sets or once set on its own (contentType, type, timestamp, the x-msgops-drained-at header);
 *  - drainOutbox() over the table at its defaults, and at each other --batch × --in-flight given; --mark-drained adds
 *    the drain with outbox.markDrained;
 *  - with --parts N: the built CLI as users run it, `msgops outbox drain --yes --json` as one process, and N processes
 *    `msgops outbox drain --part I/N --yes --json` started side by side; the rate is rows / wall time (from the spawn
 *    to the last exit: process start, lock and audit included), and the one whole process is a second anchor, so the
 *    table's last column is the parts' combined rate against one drain. Each CLI case prints the CPU split over its
 *    wall time (the CLIs' user+sys from /usr/bin/time, MariaDB's and RabbitMQ's from /proc/PID/stat, the machine's from
 *    /proc/stat) and each part's row count.
 * Every drain case is checked on the queue afterwards (not timed): every row's message there exactly once, no other
 * message, every row sent, and each aggregate's messages in id order; the parts' audit records (their message ids)
 * checked to hold only rows of their own part. A case that fails a check is named after the table, and the run exits 1.
 * Rows carry an aggregate id of AGGREGATES aggregates, interleaved in id order, so the parts' hash spreads.
 * Prints one table (medians, every round, ratios to bare publishes) with the payload size, the row count and the load.
 * Databases and vhosts are named --prefix_…, dropped at the end.
 */
import {execFileSync, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import amqp from 'amqplib'
import {Redis} from 'ioredis'

import {AmqpAdapter} from '../src/adapters/amqp.js'
import {MysqlAdapter} from '../src/adapters/mysql.js'
import {ConfirmPublisher} from '../src/adapters/publisher.js'
import {DEFAULTS} from '../src/config/defaults.js'
import type {Config} from '../src/config/schema.js'
import {AUDIT_ID_LIMIT} from '../src/core/audit.js'
import {DEFAULT_BATCH_SIZE, DEFAULT_PIPELINE, DRAINED_AT_HEADER, drainOutbox, openTransactions, toMessage} from '../src/core/outbox/drain.js'
import type {OutboxRow} from '../src/core/outbox/repository.js'
import {outboxStatus} from '../src/core/outbox/status.js'
import {resolveOutbox} from '../src/core/outbox/table.js'
import {initSchema} from '../src/core/schema.js'
import {cliProcessEnv, createTestDatabase, createTestVhost, dropKeys, REDIS_URL} from '../test/helpers/env.js'
import {alternate, BENCH_PREFIX, type Case, cpuMsOf, load, median, profiled, table} from './_rounds.js'
import {report, traceSql, tracePublisher} from './_spans.js'

export function option(args: string[], name: string, fallback: number): number {
  return list(args, name, [fallback])[0]
}

/** A flag holding one positive integer or several separated by commas. */
function list(args: string[], name: string, fallback: number[]): number[] {
  const i = args.indexOf(`--${name}`)
  if (i < 0) return fallback
  const values = String(args[i + 1]).split(',').map(Number)
  if (values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`--${name} needs positive integers (separated by commas)`)
  return values
}

const RUN_JS = fileURLToPath(new URL('../bin/run.js', import.meta.url))
/** Aggregates of the bench's rows: row n belongs to aggregate n mod AGGREGATES (a prime: their events interleave). */
const AGGREGATES = 5003
const aggregateOf = (n: number) => `agg-${n % AGGREGATES}`
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100

/** utime + stime of a process in seconds (fields 14 and 15 of /proc/PID/stat), NaN when it cannot be read. */
function cpuOfPid(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS
  } catch {
    return Number.NaN
  }
}

/** The machine's busy CPU seconds so far, all cores (/proc/stat: everything but idle and iowait). */
function machineBusy(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/)
  const [user, nice, system, , , irq, softirq, steal] = values.map(Number)
  return (user + nice + system + irq + softirq + (steal || 0)) / TICKS
}

function pidOf(...names: string[]): number | undefined {
  for (const name of names) {
    try {
      return Number(execFileSync('pidof', ['-s', name], {encoding: 'utf8'}).trim())
    } catch {}
  }
  return undefined
}

/** One CLI run under /usr/bin/time: its exit code, its JSON, its CPU (user + sys, seconds) and when it ended. */
function runCli(args: string[], env: Record<string, string>): Promise<{code: number | null; report: any; cpuS: number; stderr: string}> {
  const out = join(tmpdir(), `msgops-bench-drain-time-${randomBytes(4).toString('hex')}`)
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', out, process.execPath, RUN_JS, ...args], {env, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      let cpuS = Number.NaN
      try {
        const [user, sys] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
        cpuS = user + sys
      } catch {}
      rmSync(out, {force: true})
      let report: any
      try {
        report = JSON.parse(stdout)
      } catch {
        report = undefined
      }
      resolve({code, report, cpuS, stderr})
    })
  })
}

/** Where the CPU went over one timed run: seconds of wall, of each client process, of MariaDB, RabbitMQ, the machine. */
interface Split {
  wallS: number
  clientS: number[]
  dbS: number
  mqS: number
  machineS: number
  /** The CLI drains' own elapsedMs, in seconds. */
  ownS: number[]
  published: number[]
}

const cores = availableParallelism()

const mb = (kb: number) => `${Math.round(kb / 1024)} MB`

/** The JSON payload of the bench's row i (148 bytes), shared with bench/publisher.ts. */
export function payload(i: number): string {
  return JSON.stringify({orderId: `o-${i}`, customerId: `c-${i % 977}`, amount: (i % 10_000) / 100, currency: 'EUR', items: [{sku: `sku-${i % 131}`, qty: 1 + (i % 3)}], createdAt: '2026-01-01T00:00:00.000Z'})
}

/** The id of the bench's row n. */
const rowId = (n: number) => `m-${String(n).padStart(9, '0')}`

/** An outbox row as the bench fills it, for building the drain's own message without reading the table. */
function syntheticRow(n: number): OutboxRow {
  return {id: rowId(n), status: 'pending', payload: payload(n), headers: null, aggregateType: null, aggregateId: aggregateOf(n), eventType: 'order.created', exchange: 'bench.x',
    routingKey: 'order.created', attempts: 0, lastError: null, createdAt: null, availableAt: null, sentAt: null, ageMs: 0}
}

/** Confirmed, persistent, mandatory publishes with at most `window` unconfirmed; bodies are the rows' payloads. */
export async function rawPublish(broker: amqp.ChannelModel, bodies: Buffer[], window: number, properties: (n: number) => amqp.Options.Publish): Promise<{seconds: number; cpuMs: number}> {
  const rows = bodies.length
  const channel = await broker.createConfirmChannel()
  const cpu = process.cpuUsage()
  const start = performance.now()
  await new Promise<void>((resolve, reject) => {
    let sent = 0
    let confirmed = 0
    let inFlight = 0
    const pump = () => {
      while (inFlight < window && sent < rows) {
        const n = sent++
        inFlight++
        // Assigned, not spread: spread options make amqplib's Args.publish megamorphic (bench/RESULTS.md#publisher).
        const options = properties(n)
        options.persistent = true
        options.mandatory = true
        channel.publish('bench.x', 'order.created', bodies[n], options, (error) => {
          if (error) return reject(error)
          inFlight--
          if (++confirmed === rows) resolve()
          else pump()
        })
      }
    }
    pump()
  })
  const seconds = (performance.now() - start) / 1000
  const cpuMs = cpuMsOf(process.cpuUsage(cpu))
  await channel.close()
  return {seconds, cpuMs}
}

export async function main(args: string[]): Promise<void> {
  const rows = option(args, 'rows', 100_000)
  const rounds = option(args, 'rounds', 3)
  const window = option(args, 'window', 1000)
  const batches = list(args, 'batch', [DEFAULT_BATCH_SIZE])
  const depths = list(args, 'in-flight', [DEFAULT_PIPELINE])
  const trace = args.includes('--trace')
  const partCount = args.includes('--parts') ? option(args, 'parts', 2) : undefined
  if (partCount !== undefined && (partCount < 2 || partCount > 16)) throw new Error('--parts needs 2 to 16')
  const prefixAt = args.indexOf('--prefix')
  const prefix = prefixAt >= 0 ? String(args[prefixAt + 1]) : BENCH_PREFIX
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix)) throw new Error('--prefix needs a short lower-case name (letters, digits, _)')
  const db = await createTestDatabase(prefix)
  const vhost = await createTestVhost(prefix)
  const keyPrefix = `${prefix}_${randomBytes(3).toString('hex')}:`
  // --profile FILE: a CPU profile (.cpuprofile, for Chrome DevTools) of the first drain only, fill and publishes left out.
  let profileTo = args.includes('--profile') ? String(args[args.indexOf('--profile') + 1]) : undefined
  const config: Config = {...structuredClone(DEFAULTS), mysql: {url: db.url}, amqp: {url: vhost.amqpUrl}}
  const sql = await MysqlAdapter.connect(db.url, 10_000, openTransactions(Math.max(...depths)) + 1)
  const broker = await amqp.connect(vhost.amqpUrl)
  const out = (line: string) => process.stdout.write(`${line}\n`)
  const publishers: amqp.ChannelModel[] = []
  try {
    const setup = await broker.createChannel()
    await setup.assertExchange('bench.x', 'topic', {durable: true})
    await setup.assertQueue('bench.q', {durable: true})
    await setup.bindQueue('bench.q', 'bench.x', '#')

    await initSchema(sql, config)
    const fill = async () => {
      await sql.execute('TRUNCATE TABLE outbox')
      for (let i = 0; i < rows; i += 2000) {
        const chunk = Array.from({length: Math.min(2000, rows - i)}, (_, k) => {
          const n = i + k
          return [rowId(n), aggregateOf(n), 'order.created', 'bench.x', 'order.created', payload(n)]
        })
        await sql.execute('INSERT INTO outbox (id, aggregate_id, event_type, exchange, routing_key, payload, created_at) VALUES ?', [chunk.map((r) => [...r, new Date(Date.now() - 3_600_000)])])
      }
      // The CLI cases' audit ids: every round's drains record the same ids again, so each starts from an empty table.
      await sql.execute(`TRUNCATE TABLE \`${config.audit.table}_ids\``).catch(() => {})
      await sql.execute('ANALYZE TABLE outbox')
    }
    process.stdout.write(`filling ${rows.toLocaleString('en-US')} pending rows… `)
    const fillStart = Date.now()
    await fill()
    out(`${((Date.now() - fillStart) / 1000).toFixed(1)} s`)

    const filter = "`status` = 'pending' AND `created_at` <= NOW(3) - INTERVAL 30 SECOND AND (`available_at` IS NULL OR `available_at` <= NOW(3))"
    const explain = async (label: string, query: string) => {
      const plan = await sql.query<Record<string, unknown>>(`EXPLAIN ${query}`)
      for (const p of plan) out(`  ${label}: type=${p.type} key=${p.key} rows=${p.rows} extra=${p.Extra}`)
    }
    const batch = batches[0]
    out(`EXPLAIN at ${rows.toLocaleString('en-US')} pending rows:`)
    await explain('candidates, first batch', `SELECT id FROM outbox WHERE ${filter} ORDER BY id LIMIT ${batch}`)
    await explain('candidates, next batch ', `SELECT id FROM outbox WHERE ${filter} AND id > 'm-000050000' ORDER BY id LIMIT ${batch}`)
    await explain('lock by primary key    ', `SELECT id FROM outbox FORCE INDEX (PRIMARY) WHERE ${filter} AND id IN ('m-000000001','m-000000002') ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED`)

    // The same payloads the rows hold, so that raw publishes and the drain move the same bytes.
    const bodies = Array.from({length: rows}, (_, n) => Buffer.from(payload(n)))
    const payloadBytes = Math.round(bodies.reduce((sum, b) => sum + b.length, 0) / rows)
    const outbox = await resolveOutbox(sql, config)
    const drainMessage = toMessage(syntheticRow(0), outbox)
    if ('invalid' in drainMessage) throw new Error(drainMessage.invalid)
    const cpu = new Map<string, number[]>()
    const keepCpu = (name: string, ms: number, n: number) => cpu.set(name, [...(cpu.get(name) ?? []), ms / (n / 1000)])
    // With --parts: the CPU of MariaDB, RabbitMQ and the whole machine over each timed part of a case (not its checks).
    const mariadb = pidOf('mariadbd', 'mysqld')
    const rabbit = pidOf('beam.smp')
    const splits = new Map<string, Split[]>()
    const timed = async <T>(name: string, work: () => Promise<T>, client: (result: T) => {clientS: number[]; ownS?: number[]; published?: number[]}): Promise<{result: T; seconds: number}> => {
      const db0 = cpuOfPid(mariadb)
      const mq0 = cpuOfPid(rabbit)
      const busy0 = machineBusy()
      const started = performance.now()
      const result = await work()
      const seconds = (performance.now() - started) / 1000
      if (partCount !== undefined) {
        const split: Split = {wallS: seconds, dbS: cpuOfPid(mariadb) - db0, mqS: cpuOfPid(rabbit) - mq0, machineS: machineBusy() - busy0, ownS: [], published: [], ...client(result)}
        splits.set(name, [...(splits.get(name) ?? []), split])
      }
      return {result, seconds}
    }
    const raw = (name: string, properties: (n: number) => amqp.Options.Publish, anchor = false): Case => ({
      name, anchor,
      async run() {
        const {result: r} = await timed(name, () => rawPublish(broker, bodies, window, properties), (r) => ({clientS: [r.cpuMs / 1000]}))
        keepCpu(name, r.cpuMs, rows)
        return rows / r.seconds
      },
    })
    const bare = (n: number): amqp.Options.Publish => ({messageId: rowId(n)})
    const stamp = new Date().toISOString()
    const cases: Case[] = [
      raw(`bare publishes (window ${window})`, bare, true),
      // Exactly what the drain sends (messageId, contentType, type; no header) with this message's id.
      raw("publishes with the drain's properties", (n) => ({...drainMessage.properties, messageId: rowId(n)})),
    ]
    if (args.includes('--properties')) {
      cases.push(
        raw('bare + contentType', (n) => ({messageId: rowId(n), contentType: 'application/json'})),
        raw('bare + type', (n) => ({messageId: rowId(n), type: 'order.created'})),
        raw('bare + timestamp', (n) => ({messageId: rowId(n), timestamp: Math.floor(Date.now() / 1000)})),
        raw(`bare + ${DRAINED_AT_HEADER} header`, (n) => ({messageId: rowId(n), headers: {[DRAINED_AT_HEADER]: stamp}})),
        raw('bare + all four (the drain until 2026-12)', (n) => ({messageId: rowId(n), contentType: 'application/json', type: 'order.created', timestamp: Math.floor(Date.now() / 1000), headers: {[DRAINED_AT_HEADER]: stamp}})),
      )
    }
    // The broker's own rate with as many publishers as parts (one connection each, a slice of the rows each, the same
    // window each): what N drains side by side could reach at most on this broker and queue.
    if (partCount !== undefined) for (let i = 0; i < partCount; i++) publishers.push(await amqp.connect(vhost.amqpUrl))
    if (partCount !== undefined) {
      const name = `bare publishes, ${partCount} connections side by side (window ${window} each)`
      const size = Math.ceil(rows / partCount)
      cases.push({
        name,
        async run() {
          const used = process.cpuUsage()
          const {seconds} = await timed(name, () => Promise.all(publishers.map((p, i) => rawPublish(p, bodies.slice(i * size, (i + 1) * size), window, (n) => bare(i * size + n)))), () => ({clientS: [cpuMsOf(process.cpuUsage(used)) / 1000]}))
          keepCpu(name, cpuMsOf(process.cpuUsage(used)), rows)
          return rows / seconds
        },
      })
    }
    const drainCase = (batchSize: number, pipeline: number, markDrained: boolean): Case => {
      const name = `msgops drain (batch ${batchSize}, in flight ${pipeline}${markDrained ? ', --mark-drained' : ''})${batchSize === DEFAULT_BATCH_SIZE && pipeline === DEFAULT_PIPELINE && !markDrained ? ' = defaults' : ''}`
      return {
        name,
        async run() {
          const amqpAdapter = await AmqpAdapter.connect(vhost.amqpUrl, 10_000)
          const publisher = new ConfirmPublisher(amqpAdapter)
          const used = process.cpuUsage()
          const {result, seconds} = await profiled(profileTo, () => timed(name, () => drainOutbox(trace ? {sql: traceSql(sql), publisher: tracePublisher(publisher)} : {sql, publisher}, {config, batchSize, pipeline, markDrained}),
            (r) => ({clientS: [cpuMsOf(process.cpuUsage(used)) / 1000], published: [r.published]})))
          if (profileTo) out(`  CPU profile of this drain (drainOutbox only): ${profileTo}`)
          profileTo = undefined
          keepCpu(name, cpuMsOf(process.cpuUsage(used)), result.published)
          if (trace) out(report(seconds * 1000))
          await publisher.close()
          await amqpAdapter.close()
          if (result.published !== rows) throw new Error(`drain: ${result.published} published, expected ${rows}`)
          await check(name)
          // A fresh table for the next drain (not timed): resetting the rows by UPDATE left the next drain reading
          // old row versions while InnoDB purged them (slower by a third in the same run).
          await fill()
          return result.published / seconds
        },
      }
    }
    /** Once per pass: every row's message in the queue exactly once, no other, every row sent, each aggregate in id order. */
    const checks = new Map<string, {rounds: number; failures: string[]}>()
    const check = async (name: string, more: string[] = []) => {
      const ids = await takeQueue(broker)
      const seen = new Uint8Array(rows)
      const last = new Int32Array(AGGREGATES).fill(-1)
      let foreign = 0
      let twice = 0
      let outOfOrder = 0
      for (const id of ids) {
        const n = /^m-\d{9}$/.test(id) ? Number(id.slice(2)) : -1
        if (n < 0 || n >= rows) {
          foreign++
          continue
        }
        if (seen[n]++ > 0) twice++
        const a = n % AGGREGATES
        if (last[a] > n) outOfOrder++
        last[a] = Math.max(last[a], n)
      }
      const missing = seen.reduce((k, v) => k + (v === 0 ? 1 : 0), 0)
      const [{unsent}] = await sql.query<{unsent: unknown}>("SELECT COUNT(*) AS unsent FROM outbox WHERE status <> 'sent'")
      const failures = [...more]
      if (ids.length !== rows) failures.push(`${ids.length} messages for ${rows} rows`)
      if (missing > 0) failures.push(`${missing} rows without a message`)
      if (twice > 0) failures.push(`${twice} messages published more than once`)
      if (foreign > 0) failures.push(`${foreign} messages of no row`)
      if (outOfOrder > 0) failures.push(`${outOfOrder} messages before an earlier event of their aggregate`)
      if (Number(unsent) > 0) failures.push(`${unsent} rows not sent`)
      const entry = checks.get(name) ?? {rounds: 0, failures: []}
      entry.rounds++
      entry.failures.push(...failures)
      checks.set(name, entry)
    }
    for (const b of batches) for (const d of depths) cases.push(drainCase(b, d, false))
    if (!batches.includes(DEFAULT_BATCH_SIZE) || !depths.includes(DEFAULT_PIPELINE)) cases.push(drainCase(DEFAULT_BATCH_SIZE, DEFAULT_PIPELINE, false))
    if (args.includes('--mark-drained')) cases.push(drainCase(DEFAULT_BATCH_SIZE, DEFAULT_PIPELINE, true))

    // The CLI as users run it: one whole drain, and partCount parts side by side.
    const cliEnv = cliProcessEnv({MSGOPS_MYSQL_URL: db.url, MSGOPS_AMQP_URL: vhost.amqpUrl, MSGOPS_MANAGEMENT_URL: vhost.managementUrl, MSGOPS_REDIS_URL: REDIS_URL, MSGOPS_REDIS_KEY_PREFIX: keyPrefix})
    /** Rows per part by the drain's own hash (the SQL of OutboxRepository.partKey), counted once: every fill holds the same rows. */
    const expected: number[] = []
    if (partCount !== undefined) {
      const counted = await sql.query<{p: unknown; n: unknown}>('SELECT MOD(CRC32(COALESCE(aggregate_id, id)), ?) AS p, COUNT(*) AS n FROM outbox GROUP BY p', [partCount])
      for (let p = 0; p < partCount; p++) expected.push(Number(counted.find((r) => Number(r.p) === p)?.n ?? 0))
    }
    const auditTable = config.audit.table
    const cliCase = (count: number): Case => {
      const name = count === 1 ? 'msgops outbox drain --yes --json (one process)' : `${count} × msgops outbox drain --part I/${count} side by side`
      return {
        name,
        anchor: count === 1,
        async run() {
          const [{mark}] = await sql.query<{mark: unknown}>(`SELECT COALESCE(MAX(id), 0) AS mark FROM \`${auditTable}\``)
          const {result: runs, seconds: wallS} = await timed(name, () => Promise.all(Array.from({length: count}, (_, i) => runCli(['outbox', 'drain', '--yes', '--json', ...(count === 1 ? [] : ['--part', `${i + 1}/${count}`])], cliEnv))),
            (runs) => ({clientS: runs.map((r) => r.cpuS), ownS: runs.map((r) => Number(r.report?.elapsedMs) / 1000), published: runs.map((r) => Number(r.report?.published ?? 0))}))
          for (const r of runs) if (r.code !== 0 || !r.report) throw new Error(`${name}: exit ${r.code}: ${r.stderr.trim()}`)
          const more: string[] = []
          if (count > 1) {
            for (const [i, r] of runs.entries()) if (Number(r.report.published) !== expected[i]) more.push(`part ${i + 1}/${count} published ${r.report.published} rows, its hash holds ${expected[i]}`)
            // Each part's audit record lists the message ids it published: all of them must be of its own part.
            const records = await sql.query<{id: unknown; arguments: unknown}>(`SELECT id, arguments FROM \`${auditTable}\` WHERE id > ? AND command = 'outbox:drain'`, [mark])
            for (const record of records) {
              const argv = (typeof record.arguments === 'string' ? JSON.parse(record.arguments) : record.arguments) as string[]
              const [index] = String(argv[argv.indexOf('--part') + 1]).split('/').map(Number)
              const [{n, wrong}] = await sql.query<{n: unknown; wrong: unknown}>(
                `SELECT COUNT(*) AS n, COALESCE(SUM(o.id IS NULL OR MOD(CRC32(COALESCE(o.aggregate_id, o.id)), ?) <> ?), 0) AS wrong FROM \`${auditTable}_ids\` i LEFT JOIN outbox o ON o.id = i.item_id WHERE i.audit_id = ? AND i.action = 'drain'`,
                [count, index - 1, record.id],
              )
              if (Number(wrong) > 0) more.push(`part ${index}/${count} published ${wrong} rows of another part`)
              if (Number(n) !== Math.min(expected[index - 1], AUDIT_ID_LIMIT)) more.push(`part ${index}/${count}'s audit lists ${n} ids, its hash holds ${expected[index - 1]}`)
            }
            if (records.length !== count) more.push(`${records.length} audit records for ${count} parts`)
          }
          await check(name, more)
          await fill()
          return rows / wallS
        },
      }
    }
    if (partCount !== undefined) cases.push(cliCase(1), cliCase(partCount))

    const before = load()
    const {rates, loads} = await alternate(cases, rounds, async () => void (await setup.purgeQueue('bench.q')), out)
    out('')
    out(`drain: ${rows.toLocaleString('en-US')} messages per case per round, payload ${payloadBytes} bytes (JSON), persistent, mandatory, one durable queue; ${rounds} rounds in alternating order`)
    out(`load average (1, 5, 15 min) before the run ${before}, before each round ${loads.join(' | ')}, after ${load()}`)
    out(table(cases, rates))
    out(`client CPU per 1000 messages (median): ${cases.filter((c) => cpu.has(c.name)).map((c) => `${c.name} ${Math.round(median(cpu.get(c.name)!))} ms`).join('; ')}`)
    if (splits.size > 0) out(`CPU over each timed run (medians; client = the bench's process or the CLIs' user+sys, others = the machine's busy time less the three, ${cores} cores):`)
    for (const c of cases) {
      const list = splits.get(c.name)
      if (!list) continue
      const m = (f: (s: Split) => number) => median(list.map(f))
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
      const per1000 = (f: (s: Split) => number) => `${Math.round((m(f) * 1000 * 1000) / rows)}`
      const each = (f: (s: Split) => number[]) => f(list[0]).map((_, i) => m((s) => f(s)[i]).toFixed(2)).join(' + ')
      const wall = m((s) => s.wallS)
      out(`  ${c.name}: wall ${wall.toFixed(2)} s${list[0].ownS.length > 0 ? ` (the drains' own elapsedMs ${each((s) => s.ownS)} s)` : ''}; client ${each((s) => s.clientS)} s, MariaDB ${m((s) => s.dbS).toFixed(2)} s, RabbitMQ ${m((s) => s.mqS).toFixed(2)} s,` +
        ` machine ${m((s) => s.machineS).toFixed(2)} of ${(cores * wall).toFixed(2)} core-s (${Math.round((m((s) => s.machineS) / (cores * wall)) * 100)}%), others ${m((s) => s.machineS - sum(s.clientS) - s.dbS - s.mqS).toFixed(2)} s;` +
        ` ms per 1,000 messages: client ${per1000((s) => sum(s.clientS))}, MariaDB ${per1000((s) => s.dbS)}, RabbitMQ ${per1000((s) => s.mqS)}${list[0].published.length > 1 ? `; rows per process ${list[0].published.join(' + ')}` : ''}`)
    }
    if (partCount !== undefined) out(`parts' rows by the hash (CRC32(aggregate_id) mod ${partCount}, ${AGGREGATES} aggregates): ${expected.map((n, i) => `${i + 1}/${partCount} ${n.toLocaleString('en-US')}`).join(', ')}`)
    const failed = [...checks].filter(([, c]) => c.failures.length > 0)
    out(`exactly once, every row sent, each aggregate in id order (checked on the queue after every drain): ${[...checks].map(([name, c]) => `${name} ${c.failures.length === 0 ? 'ok' : 'FAILED'} in ${c.rounds} rounds`).join('; ')}`)
    for (const [name, c] of failed) out(`  ${name}: ${c.failures.join('; ')}`)
    out(`peak RSS: ${mb(process.resourceUsage().maxRSS)}`)
    const statusStart = performance.now()
    await outboxStatus(sql, {config})
    out(`outbox status over ${rows.toLocaleString('en-US')} rows: ${Math.round(performance.now() - statusStart)} ms`)
    if (failed.length > 0) process.exitCode = 1
  } finally {
    for (const p of publishers) await p.close().catch(() => {})
    await broker.close().catch(() => {})
    await sql.close()
    await db.drop()
    await vhost.drop()
    if (partCount !== undefined) {
      const redis = new Redis(REDIS_URL, {maxRetriesPerRequest: 1})
      await dropKeys(redis, keyPrefix).catch(() => {})
      redis.disconnect()
    }
  }
}

/** Every message of bench.q, in queue order (consumed and acknowledged at once: the queue is empty afterwards). */
async function takeQueue(broker: amqp.ChannelModel): Promise<string[]> {
  const channel = await broker.createChannel()
  const {messageCount} = await channel.checkQueue('bench.q')
  const ids: string[] = []
  if (messageCount > 0)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench.q: ${ids.length} of ${messageCount} messages consumed in 120 s`)), 120_000)
      channel.consume('bench.q', (m) => {
        if (!m) return
        ids.push(String(m.properties.messageId))
        if (ids.length === messageCount) {
          clearTimeout(timer)
          resolve()
        }
      }, {noAck: true}).catch(reject)
    })
  await channel.close()
  return ids
}
