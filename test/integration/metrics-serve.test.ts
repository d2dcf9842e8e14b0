import {type ChildProcess, spawn} from 'node:child_process'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startProxy, type CutProxy} from '../reliability/helpers/proxy.js'
import {cliEnv, cliProcessEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, RUN_JS, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let conn: mysql.Connection
let proxy: CutProxy
let env: Record<string, string>

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/**
 * The Prometheus text exposition format, parsed: every sample must belong to a family announced by # HELP and # TYPE
 * before it, label values are unescaped, values are numbers (NaN and ±Inf included).
 */
function parseExposition(text: string): {samples: Sample[]; types: Record<string, string>; help: Record<string, string>} {
  const types: Record<string, string> = {}
  const help: Record<string, string> = {}
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line)
    if (meta) {
      ;(meta[1] === 'HELP' ? help : types)[meta[2]] = meta[3]
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line)
    if (!m) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    if (m[2]) {
      const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y
      let match
      while ((match = pair.exec(m[2])) !== null) labels[match[1]] = match[2].replaceAll(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
      if (pair.lastIndex !== m[2].length && pair.lastIndex !== 0) throw new Error(`bad labels: ${line}`)
    }
    const family = Object.keys(types).find((f) => m[1] === f || m[1].startsWith(`${f}_`))
    if (!family) throw new Error(`a sample without # TYPE: ${line}`)
    if (!help[family]) throw new Error(`a family without # HELP: ${family}`)
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3])
    samples.push({name: m[1], labels, value})
  }
  return {samples, types, help}
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
}

interface Served {
  child: ChildProcess
  base: string
  stderr: () => string
  exited: Promise<number | null>
}

async function serve(args: string[]): Promise<Served> {
  const url = new URL(db.url)
  url.port = String(proxy.port)
  const child = spawn(process.execPath, [RUN_JS, 'metrics', 'serve', '--listen', '127.0.0.1:0', ...args], {env: cliProcessEnv({...env, MSGOPS_MYSQL_URL: url.toString()}), cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  for (let i = 0; i < 200 && !/listening on http:\/\/\S+\/metrics/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50))
  const address = /listening on (http:\/\/\S+)\/metrics/.exec(stderr)
  if (!address) throw new Error(`metrics serve did not start: ${stderr}`)
  return {child, base: address[1], stderr: () => stderr, exited}
}

async function scrape(base: string) {
  const response = await fetch(`${base}/metrics`, {signal: AbortSignal.timeout(20_000)})
  expect(response.status).toBe(200)
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parseExposition(await response.text())
}

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase('msgops_prom'), createTestVhost('msgops_prom'), createTestRedis('msgops_prom')] as const)
  env = cliEnv({db, vhost, redis})
  expect((await runCli(['schema', 'init'], {env})).code).toBe(0)
  conn = await mysql.createConnection(db.url)
  await conn.query(`INSERT INTO outbox (id, payload, status, created_at, last_error) VALUES
    ('p1', '{}', 'pending', NOW(3) - INTERVAL 42 SECOND, NULL), ('p2', '{}', 'pending', NOW(3), NULL), ('d1', '{}', 'dead_letter', NOW(3), 'no route')`)
  proxy = await startProxy(Number(new URL(db.url).port || 3306))
})

afterAll(async () => {
  await conn?.end()
  await proxy?.close()
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
})

describe('msgops metrics serve', () => {
  it('answers a scrape from one snapshot, two scrapes within --min-interval cost one, a dead MySQL gives a stale answer, SIGTERM closes it', async () => {
    const served = await serve(['--min-interval', '1m', '--scrape-timeout', '1s', '--timeout', '5s'])
    try {
      const first = await scrape(served.base)
      expect(value(first.samples, 'msgops_outbox_rows', {table: 'outbox', status: 'pending'})).toBe(2)
      expect(value(first.samples, 'msgops_outbox_rows', {status: 'dead-letter'})).toBe(1)
      expect(value(first.samples, 'msgops_outbox_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(42)
      expect(value(first.samples, 'msgops_outbox_failure_group_rows', {group: 'no route'})).toBe(1)
      expect(value(first.samples, 'msgops_snapshot_stale')).toBe(0)
      expect(value(first.samples, 'msgops_snapshot_source_up', {source: 'outbox'})).toBe(1)
      expect(value(first.samples, 'msgops_snapshots_total')).toBe(1)
      expect(first.types.msgops_snapshots_total).toBe('counter')
      expect(first.help.msgops_outbox_rows).toBe('Outbox rows per status.')
      expect(value(first.samples, 'process_resident_memory_bytes')).toBeGreaterThan(0)

      await conn.query("INSERT INTO outbox (id, payload, status) VALUES ('p3', '{}', 'pending')")
      const second = await scrape(served.base)
      expect(value(second.samples, 'msgops_snapshots_total')).toBe(1)
      expect(value(second.samples, 'msgops_outbox_rows', {status: 'pending'})).toBe(2)

      const health = await fetch(`${served.base}/healthz`)
      expect([health.status, await health.text()]).toEqual([200, 'ok\n'])
      expect((await fetch(`${served.base}/other`)).status).toBe(404)
    } finally {
      served.child.kill('SIGTERM')
    }
    expect(await served.exited).toBe(143)
    expect(served.stderr()).not.toMatch(/Error|at .*\.js/)
    await expect(fetch(`${served.base}/healthz`)).rejects.toThrow()
  })

  it('a MySQL that stops answering gives the last figures marked stale within --scrape-timeout, not a hung scrape', async () => {
    const served = await serve(['--min-interval', '0s', '--scrape-timeout', '1s', '--timeout', '5s'])
    try {
      const fresh = await scrape(served.base)
      expect(value(fresh.samples, 'msgops_outbox_rows', {status: 'pending'})).toBe(3)
      expect(value(fresh.samples, 'msgops_snapshot_stale')).toBe(0)
      proxy.cut('silent')
      const stale = await scrape(served.base)
      expect(value(stale.samples, 'msgops_snapshot_stale')).toBe(1)
      expect(value(stale.samples, 'msgops_outbox_rows', {status: 'pending'})).toBe(3)
      expect(value(stale.samples, 'msgops_snapshots_total')).toBe(1)
      // Once the part's own timeout has passed, the snapshot comes back with the outbox stale and the rest fresh.
      let later = stale
      for (let i = 0; i < 40 && value(later.samples, 'msgops_snapshot_source_up', {source: 'outbox'}) !== 0; i++) {
        await new Promise((r) => setTimeout(r, 500))
        later = await scrape(served.base)
      }
      expect(value(later.samples, 'msgops_snapshot_source_up', {source: 'outbox'})).toBe(0)
      expect(value(later.samples, 'msgops_snapshot_source_up', {source: 'locks'})).toBe(1)
      expect(value(later.samples, 'msgops_snapshot_stale')).toBe(1)
      expect(value(later.samples, 'msgops_outbox_rows', {status: 'pending'})).toBe(3)
    } finally {
      served.child.kill('SIGTERM')
    }
    expect(await served.exited).toBe(143)
  })
})
