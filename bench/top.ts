/**
 * `npm run bench -- top [--database NAME | --rows 1000000] [--seconds 60] [--interval 2s] [--serve [--scrape-every 5]]`
 *
 * The cost of watching: `msgops top` running in a real terminal (tmux, 120×40, its own tmux server) at --interval,
 * or with --serve `msgops metrics serve` scraped every --scrape-every seconds, against a database with realistic
 * contents (--database: the one `bench -- snapshot --keep` left; else --rows loaded as the snapshot bench does, dropped
 * after), a vhost of its own with a work queue (1,000 ready, a consumer holding one), a dead-letter queue (100 real
 * x-death messages), a held drain lock, a reconcile audit record, and 5 new pending rows a second so that the figures
 * and sparklines move.
 * Measured after the first frame (or scrape) and 5 s of warm-up, over --seconds: the process's CPU from
 * /proc/PID/stat (utime + stime) as % of one core, against the limit of 5%; its VmRSS from /proc/PID/status at the
 * start and the end, and every 10 s (min, max). mysqld's CPU over the same window is printed beside it, for what
 * each refresh costs the database (a shared server: other work shows there too).
 */
import {spawn, execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'

import amqp from 'amqplib'
import mysql from 'mysql2/promise'

import {MysqlAdapter} from '../src/adapters/mysql.js'
import {RedisAdapter} from '../src/adapters/redis.js'
import {DEFAULTS} from '../src/config/defaults.js'
import {writeAudit} from '../src/core/audit.js'
import {acquireLock, lockRegistry} from '../src/core/lock.js'
import {initSchema} from '../src/core/schema.js'
import {createTestRedis, createTestVhost, ORDERS_TOPOLOGY, REDIS_URL} from '../test/helpers/env.js'
import {loadRows} from './snapshot.js'

const MYSQL_ROOT = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const LIMIT_PERCENT = 5
const WARMUP_MS = 5000
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100


function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat, after the command's parentheses). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!m) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1])
}

function mysqldPid(): number | undefined {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      return Number(execFileSync('pidof', ['-s', name], {encoding: 'utf8'}).trim())
    } catch {}
  }
  return undefined
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return
    await sleep(200)
  }
  throw new Error(`timed out waiting for ${what}`)
}

interface Window {
  cpuPercent: number
  seconds: number
  rssStartKb: number
  rssEndKb: number
  rssMinKb: number
  rssMaxKb: number
  /** VmRSS every 10 s from the start. */
  samplesKb: number[]
  mysqldPercent?: number
}

/** Measures `pid` over `seconds` after warm-up: CPU as % of one core, RSS at the start, the end and every 10 s. */
async function measure(pid: number, seconds: number, alive: () => boolean, tick?: () => Promise<void>): Promise<Window> {
  const mysqld = mysqldPid()
  const t0 = performance.now()
  const cpu0 = cpuSeconds(pid)
  const db0 = mysqld ? cpuSeconds(mysqld) : 0
  const rssStartKb = rssKb(pid)
  const samples = [rssStartKb]
  const end = t0 + seconds * 1000
  let nextSample = t0 + 10_000
  while (performance.now() < end) {
    if (!alive()) throw new Error('the measured process ended during the window')
    await sleep(Math.min(1000, end - performance.now()))
    await tick?.()
    if (performance.now() >= nextSample) {
      samples.push(rssKb(pid))
      nextSample += 10_000
    }
  }
  const wall = (performance.now() - t0) / 1000
  const rssEndKb = rssKb(pid)
  samples.push(rssEndKb)
  return {
    cpuPercent: ((cpuSeconds(pid) - cpu0) / wall) * 100,
    seconds: wall,
    rssStartKb,
    rssEndKb,
    rssMinKb: Math.min(...samples),
    rssMaxKb: Math.max(...samples),
    samplesKb: samples,
    mysqldPercent: mysqld ? ((cpuSeconds(mysqld) - db0) / wall) * 100 : undefined,
  }
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`

function report(what: string, w: Window): void {
  const growth = w.rssEndKb - w.rssStartKb
  process.stdout.write(
    `${what}: CPU ${w.cpuPercent.toFixed(2)}% of one core over ${w.seconds.toFixed(0)} s (limit ${LIMIT_PERCENT}%: ${w.cpuPercent < LIMIT_PERCENT ? 'met' : 'NOT met'})` +
      ` · RSS start ${mb(w.rssStartKb)}, end ${mb(w.rssEndKb)} (${growth >= 0 ? '+' : ''}${mb(growth)}; min ${mb(w.rssMinKb)}, max ${mb(w.rssMaxKb)} sampled every 10 s)` +
      (w.mysqldPercent === undefined ? '' : ` · mysqld meanwhile ${w.mysqldPercent.toFixed(1)}% of one core`) +
      '\n',
  )
  // The garbage collector's sawtooth hides a slow leak in start/end alone: the first and the last minute's means tell a trend.
  const mean = (kbs: number[]) => kbs.reduce((a, b) => a + b, 0) / kbs.length
  if (w.samplesKb.length >= 12) process.stdout.write(`  RSS mean of the first minute ${mb(mean(w.samplesKb.slice(0, 6)))}, of the last minute ${mb(mean(w.samplesKb.slice(-6)))}\n`)
  process.stdout.write(`  RSS every 10 s (MB): ${w.samplesKb.map((kb) => (kb / 1024).toFixed(0)).join(' ')}\n`)
}

export async function main(args: string[]): Promise<void> {
  const reuse = arg(args, '--database', '')
  const rows = Number(arg(args, '--rows', '1000000'))
  const seconds = Number(arg(args, '--seconds', '60'))
  const interval = arg(args, '--interval', '2s')
  const serve = args.includes('--serve')
  const scrapeEvery = Number(arg(args, '--scrape-every', '5'))
  if (!reuse && (!Number.isInteger(rows) || rows < 1000)) throw new Error('--rows must be an integer of at least 1000')
  if (!(seconds >= 10)) throw new Error('--seconds must be at least 10')
  if (!(scrapeEvery > 0)) throw new Error('--scrape-every must be a positive number of seconds')

  const dbName = reuse || `msgops_bench_top_${randomBytes(3).toString('hex')}`
  const url = new URL(MYSQL_ROOT)
  url.pathname = `/${dbName}`
  const root = await mysql.createConnection(MYSQL_ROOT)
  if (!reuse) await root.query(`CREATE DATABASE \`${dbName}\``)
  const sql = await MysqlAdapter.connect(url.toString(), 5000)
  const vhost = await createTestVhost('msgops_bench_top')
  const redis = await createTestRedis('msgops_bench_top')
  const lockRedis = await RedisAdapter.connect(REDIS_URL, 5000)
  const topologyFile = `/tmp/${dbName}-${vhost.name}.yaml`
  writeFileSync(topologyFile, ORDERS_TOPOLOGY)
  const broker = await amqp.connect(vhost.amqpUrl)
  const tmuxSocket = `msgops-bench-top-${randomBytes(3).toString('hex')}`
  let child: ReturnType<typeof spawn> | undefined
  let lock: Awaited<ReturnType<typeof acquireLock>> | undefined
  try {
    const config = {...DEFAULTS, mysql: {url: url.toString()}}
    if (!reuse) {
      process.stdout.write(`top bench: loading ${rows.toLocaleString('en')} outbox rows and inbox records into ${dbName}\n`)
      await initSchema(sql, config)
      await loadRows(sql, rows)
    } else await initSchema(sql, config)

    // The broker side: a work queue with a backlog and a consumer, a dead-letter queue of real x-death messages.
    const ch = await broker.createChannel()
    await ch.assertExchange('orders.x', 'topic')
    await ch.assertExchange('orders.dlx', 'fanout')
    await ch.assertQueue('orders.q', {arguments: {'x-dead-letter-exchange': 'orders.dlx'}})
    await ch.assertQueue('orders.dlq')
    await ch.bindQueue('orders.q', 'orders.x', 'order.#')
    await ch.bindQueue('orders.dlq', 'orders.dlx', '')
    for (let i = 0; i < 100; i++) ch.publish('orders.x', 'order.created', Buffer.from(`{"n":${i}}`), {persistent: true, messageId: `dead-${i}`})
    await until(async () => (await ch.checkQueue('orders.q')).messageCount === 100, '100 messages in orders.q')
    for (let i = 0; i < 100; i++) {
      const m = await ch.get('orders.q')
      if (m) ch.nack(m, false, false)
    }
    await until(async () => (await ch.checkQueue('orders.dlq')).messageCount === 100, '100 dead letters in orders.dlq')
    for (let i = 0; i < 1000; i++) ch.publish('orders.x', 'order.created', Buffer.from(`{"n":${i}}`), {persistent: true, messageId: `work-${i}`})
    const consumer = await broker.createChannel()
    await consumer.prefetch(1)
    await consumer.consume('orders.q', () => {}) // holds one unacked message, never acks: a consumer attached and stuck.
    lock = await acquireLock(lockRedis, `${redis.prefix}lock:drain`, {command: 'outbox:drain', registry: lockRegistry(redis.prefix)})
    await writeAudit(sql, config.audit.table, {command: 'reconcile', argv: ['--fix', '--yes'], outcome: {found: {message_stuck: 3, message_dead: 1}, durationMs: 1800}, exitCode: 1})

    // 5 new pending rows a second: the backlog, the oldest age and "sent/1m" keep changing, as in production.
    let written = 0
    const writeSome = async () => {
      const values = Array.from({length: 5}, () => `('top-${dbName}-${written++}', '{}', 'pending', NOW(3))`).join(', ')
      await sql.execute(`INSERT INTO outbox (id, payload, status, created_at) VALUES ${values}`)
    }

    const env = {
      ...process.env,
      MSGOPS_MYSQL_URL: url.toString(),
      MSGOPS_AMQP_URL: vhost.amqpUrl,
      MSGOPS_MANAGEMENT_URL: vhost.managementUrl,
      MSGOPS_REDIS_KEY_PREFIX: redis.prefix,
    }
    const common = ['--topology', topologyFile]
    let pid: number
    let alive: () => boolean
    let tick: () => Promise<void>
    let check: () => Promise<string>
    const started = Date.now()
    if (!serve) {
      const vars = Object.entries(env).filter(([k]) => k.startsWith('MSGOPS_') || k === 'PATH' || k === 'HOME').map(([k, v]) => `${k}='${String(v).replace(/'/g, "'\\''")}'`)
      // exec: the pane's process is node itself, whose /proc entries are read.
      const command = `exec env TERM=xterm-256color ${vars.join(' ')} node bin/run.js top --interval ${interval} ${common.join(' ')}`
      execFileSync('tmux', ['-L', tmuxSocket, 'new-session', '-d', '-s', 'top', '-x', '120', '-y', '40', command])
      pid = Number(execFileSync('tmux', ['-L', tmuxSocket, 'list-panes', '-t', 'top', '-F', '#{pane_pid}'], {encoding: 'utf8'}).trim())
      const screen = () => execFileSync('tmux', ['-L', tmuxSocket, 'capture-pane', '-p', '-t', 'top'], {encoding: 'utf8'})
      alive = () => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('top')
        } catch {
          return false
        }
      }
      await until(() => screen().includes('OUTBOX') && screen().includes('orders.dlq'), 'the first frame of top')
      tick = writeSome
      check = async () => screen()
      process.stdout.write(`msgops top (pid ${pid}) in tmux 120×40, --interval ${interval}, first frame after ${Date.now() - started} ms; database ${dbName}\n`)
    } else {
      const port = await freePort()
      child = spawn('node', ['bin/run.js', 'metrics', 'serve', '--listen', `127.0.0.1:${port}`, ...common], {env, stdio: ['ignore', 'ignore', 'pipe']})
      let stderr = ''
      child.stderr!.on('data', (d) => (stderr += d))
      const spawned = child
      pid = spawned.pid!
      alive = () => spawned.exitCode === null
      const scrape = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`)
        const body = await res.text()
        if (res.status !== 200 || !body.includes('msgops_outbox_rows')) throw new Error(`scrape answered HTTP ${res.status}: ${body.slice(0, 300)} ${stderr}`)
        return body
      }
      await until(async () => {
        try {
          await scrape()
          return true
        } catch {
          return false
        }
      }, 'the first scrape of metrics serve')
      let lastScrape = 0
      let scrapes = 0
      let last = ''
      tick = async () => {
        await writeSome()
        if (Date.now() - lastScrape >= scrapeEvery * 1000 - 50) {
          lastScrape = Date.now()
          last = await scrape()
          scrapes++
        }
      }
      check = async () => `${scrapes} scrapes; the last one:\n${last.split('\n').filter((l) => /^msgops_(outbox_rows|snapshot_stale|outbox_oldest)/.test(l)).join('\n')}`
      process.stdout.write(`msgops metrics serve (pid ${pid}) on 127.0.0.1:${port}, scraped every ${scrapeEvery} s, first scrape after ${Date.now() - started} ms; database ${dbName}\n`)
    }
    const startupCpu = cpuSeconds(pid)
    await sleep(WARMUP_MS)
    process.stdout.write(`  start-up and warm-up: ${cpuSeconds(pid).toFixed(2)} s of CPU (${startupCpu.toFixed(2)} s to the first ${serve ? 'scrape' : 'frame'}), not in the window\n`)
    const window = await measure(pid, seconds, alive, tick)
    const seen = await check()
    if (!serve && (!seen.includes('OUTBOX') || /UNREACHABLE|STALE/.test(seen))) throw new Error(`top's screen at the end is not healthy:\n${seen}`)
    process.stdout.write(`${serve ? '' : "top's screen at the end:\n"}${seen}\n`)
    report(serve ? 'metrics serve' : 'top', window)
    await ch.close().catch(() => {})
    await consumer.close().catch(() => {})
  } finally {
    if (!serve) {
      try {
        execFileSync('tmux', ['-L', tmuxSocket, 'send-keys', '-t', 'top', 'q'])
        await sleep(1000)
        execFileSync('tmux', ['-L', tmuxSocket, 'kill-server'], {stdio: 'ignore'})
      } catch {}
    }
    if (child && child.exitCode === null) {
      child.kill('SIGTERM')
      await new Promise((resolve) => child!.once('exit', resolve))
    }
    await lock?.release().catch(() => {})
    await lockRedis.close()
    await broker.close().catch(() => {})
    await vhost.drop()
    await redis.cleanup()
    rmSync(topologyFile, {force: true})
    if (reuse) await sql.execute(`DELETE FROM outbox WHERE id LIKE 'top-${dbName}-%'`)
    await sql.close()
    if (!reuse) await root.query(`DROP DATABASE IF EXISTS \`${dbName}\``)
    await root.end()
  }
}
