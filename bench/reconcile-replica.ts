/**
 * `npm run bench -- reconcile-replica [--rows 300000]`
 *
 * What a reconcile costs the primary when it reads a replica: a private MariaDB primary and replica
 * (test/helpers/mariadb-pair.ts, temporary folder, own ports, removed after), N orders with their outbox rows, inbox
 * records and Redis keys loaded server side (INSERT … SELECT from seq), 0.1% of them broken; then the built CLI's
 * reconcile run against the primary alone, and with --replica-url. Prints each server's CPU (user + sys from /proc)
 * during each run: reading the replica, the primary should do the window query and the final checks only.
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Redis} from 'ioredis'

import {caughtUp, startServerPair} from '../test/helpers/mariadb-pair.js'
import {dropKeys} from '../test/helpers/env.js'

const RUN_JS = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

function cpuOf(pid: number | undefined): number {
  if (!pid) return Number.NaN
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function cli(args: string[], env: Record<string, string>): Promise<{code: number | null; stdout: string; stderr: string; ms: number}> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_JS, ...args], {env: {...process.env, ...env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr, ms: Date.now() - started}))
  })
}

export async function main(args: string[]): Promise<void> {
  const i = args.indexOf('--rows')
  const rows = i >= 0 ? Number(args[i + 1]) : 300_000
  const pair = await startServerPair()
  const redis = new Redis(REDIS_URL)
  const prefix = `msgops_bench_repl_${randomBytes(3).toString('hex')}:`
  const config = join(tmpdir(), `${prefix.replace(':', '')}.yaml`)
  writeFileSync(config, `cache: {keyPattern: "${prefix}order:{id}"}\n`)
  try {
    const primary = await pair.connect('primary')
    const replica = await pair.connect('replica')
    await primary.query('CREATE DATABASE shop')
    await primary.query('USE shop')
    const env = {MSGOPS_MYSQL_URL: pair.url('primary', 'shop'), MSGOPS_REDIS_KEY_PREFIX: prefix, MSGOPS_CONFIG: config}
    const init = await cli(['schema', 'init'], env)
    if (init.code !== 0) throw new Error(init.stderr)
    const at = 'NOW(3) - INTERVAL 2 DAY'
    const loaded = Date.now()
    for (let from = 1; from <= rows; from += 100_000) {
      const to = Math.min(rows, from + 99_999)
      await primary.query(`INSERT INTO shop.orders (id, message_id, status, created_at, updated_at) SELECT CONCAT('o', LPAD(seq, 9, '0')), CONCAT('m', LPAD(seq, 9, '0')), 'paid', ${at}, ${at} FROM seq_${from}_to_${to}`)
      await primary.query(`INSERT INTO shop.outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('m', LPAD(seq, 9, '0')), '{}', IF(seq % 1000 = 1, 'pending', 'sent'), ${at}, ${at} FROM seq_${from}_to_${to} WHERE seq % 1000 <> 0`)
      await primary.query(`INSERT INTO shop.inbox (message_id, consumer, status, received_at) SELECT CONCAT('m', LPAD(seq, 9, '0')), 'billing', 'processed', ${at} FROM seq_${from}_to_${to} WHERE seq % 1000 NOT IN (0, 1, 2)`)
    }
    for (let from = 1; from <= rows; from += 10_000) {
      const pipe = redis.pipeline()
      for (let n = from; n < Math.min(rows + 1, from + 10_000); n++) pipe.set(`${prefix}order:o${String(n).padStart(9, '0')}`, 'paid')
      await pipe.exec()
    }
    await caughtUp(primary, replica, 300_000)
    process.stdout.write(`reconcile-replica bench: ${rows.toLocaleString('en')} orders loaded and replicated in ${((Date.now() - loaded) / 1000).toFixed(1)}s\n`)
    const base = ['reconcile', '--json', '--since', '30d', '--sample', '10', '--max-load', '0']
    // One untimed run of each first: both servers' buffer pools warm.
    await cli(base, env)
    await cli([...base, '--replica-url', pair.url('replica', 'shop')], env)
    for (const [name, extra] of [['on the primary', []], ['reading the replica', ['--replica-url', pair.url('replica', 'shop')]]] as const) {
      const p0 = cpuOf(pair.pid('primary'))
      const r0 = cpuOf(pair.pid('replica'))
      const run = await cli([...base, ...extra], env)
      if (run.code !== 1) throw new Error(`reconcile exited ${run.code}: ${run.stderr}`)
      const report = JSON.parse(run.stdout)
      process.stdout.write(`  ${name.padEnd(20)} wall ${(run.ms / 1000).toFixed(2)}s  primary CPU ${(cpuOf(pair.pid('primary')) - p0).toFixed(2)}s  replica CPU ${(cpuOf(pair.pid('replica')) - r0).toFixed(2)}s  findings ${report.total}\n`)
    }
    await primary.end()
    await replica.end()
  } finally {
    await dropKeys(redis, prefix)
    redis.disconnect()
    rmSync(config, {force: true})
    await pair.stop()
  }
}
