/**
 * Where one trace of one id waits: `node --import tsx bench/_trace-spans.ts DATABASE [N]` on a database the trace
 * bench kept (--keep). Every statement, Redis read and management API call is timed from the trace's start; prints
 * the median start and end of each over N traces (not a bench: bench/index.ts lists no file starting with _).
 */
import {RedisCache} from '../src/adapters/cache.js'
import {ManagementClient} from '../src/adapters/management.js'
import {MysqlAdapter} from '../src/adapters/mysql.js'
import {RedisAdapter} from '../src/adapters/redis.js'
import {DEFAULTS} from '../src/config/defaults.js'
import type {SqlExecutor} from '../src/core/ports.js'
import {traceIds} from '../src/core/trace/run.js'

const [db, n = '200'] = process.argv.slice(2)
const url = `mysql://root@127.0.0.1:3306/${db}`
const sql = await MysqlAdapter.connect(url, 5000, 4, 3_600_000)
const redis = await RedisAdapter.connect('redis://127.0.0.1:6379', 5000)
const config = {...DEFAULTS, mysql: {url}, cache: {...DEFAULTS.cache, keyPattern: `${db}:order:{id}`}}
const [top] = await sql.query<{id: string}>('SELECT MAX(id) AS id FROM orders')
const rows = Number(String(top.id).slice(1)) + 1
let t0 = 0n
let spans: {label: string; start: number; end: number}[] = []
const now = () => Number(process.hrtime.bigint() - t0) / 1e6
async function span<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = now()
  try {
    return await work()
  } finally {
    spans.push({label, start, end: now()})
  }
}
const label = (s: string) => {
  const from = / FROM (\S+)/.exec(s)?.[1] ?? '?'
  const where = / WHERE (?:\S+\.)?(\S+)/.exec(s)?.[1] ?? ''
  return `sql ${from.replaceAll('`', '')} ${where.replaceAll('`', '')}`.slice(0, 60)
}
const traced: SqlExecutor = {
  query: (s, p) => span(label(s), () => sql.query(s, p)),
  execute: (s, p) => span(label(s), () => sql.execute(s, p)),
}
const cache = new RedisCache(redis, 'string', 'status')
const tracedCache = {read: (keys: string[]) => span('redis read', () => cache.read(keys))}
const management = new ManagementClient(DEFAULTS.management.url, 5000)
const tracedManagement = {get: <T>(path: string) => span(`http ${path.replace(/\/[^/]*%2F[^/]*|\/%2F/, '/…')}`, () => management.get<T>(path))}
const ports = {sql: traced, cache: tracedCache, broker: {management: tracedManagement, deadLetters: async () => { throw new Error('not read') }}}
const options = {kind: 'auto' as const, graceMs: 300_000, broker: {vhost: '/', scanAll: false, limit: 10_000, idleMs: 2000, errorHeaders: []}}
const raw: number[] = []
const rawOne = async (i: number) => {
  const t = process.hrtime.bigint()
  await sql.query('SELECT * FROM orders WHERE id = ?', [`o${String(i).padStart(9, '0')}`])
  await sql.query('SELECT * FROM outbox WHERE id = ?', [`m${String(i).padStart(9, '0')}`])
  await sql.query('SELECT * FROM inbox WHERE message_id = ?', [`m${String(i).padStart(9, '0')}`])
  await redis.client.get(`${db}:order:o${String(i).padStart(9, '0')}`)
  return Number(process.hrtime.bigint() - t) / 1e6
}
const all = new Map<string, {start: number[]; end: number[]}>()
const totals: number[] = []
for (let r = 0; r < Number(n); r++) {
  const pickN = Math.floor(Math.random() * rows)
  const rawMs = await rawOne(pickN)
  if (r >= 10) raw.push(rawMs)
  const id = `o${String(pickN).padStart(9, '0')}`
  spans = []
  t0 = process.hrtime.bigint()
  for await (const batch of traceIds(ports, config, options, [id])) void batch
  const total = now()
  if (r < 10) continue
  totals.push(total)
  const seen = new Map<string, number>()
  for (const s of spans) {
    const k = seen.get(s.label) ?? 0
    seen.set(s.label, k + 1)
    const key = k ? `${s.label} #${k + 1}` : s.label
    const a = all.get(key) ?? {start: [], end: []}
    a.start.push(s.start)
    a.end.push(s.end)
    all.set(key, a)
  }
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]
const p25 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 4)]
for (const [k, v] of [...all.entries()].sort((a, b) => med(a[1].start) - med(b[1].start)))
  console.log(`${med(v.start).toFixed(2).padStart(6)} → ${med(v.end).toFixed(2).padStart(6)} ms  ${k} (${v.start.length})`)
console.log(`raw median ${med(raw).toFixed(2)} ms, p25 ${p25(raw).toFixed(2)} ms; ratio of medians ${(med(totals) / med(raw)).toFixed(2)}`)
console.log(`total median ${med(totals).toFixed(2)} ms, p25 ${p25(totals).toFixed(2)} ms over ${totals.length}`)
await sql.close()
await redis.close()
