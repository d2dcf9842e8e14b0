import type {PublisherPort, SqlExecutor, SqlPort} from '../src/core/ports.js'
export interface Span {label: string; start: number; end: number}
export const spans: Span[] = []
function label(sql: string): string {
  const s = sql.trim()
  if (s.startsWith('SELECT') && s.includes('FOR UPDATE')) return 'lock-select'
  if (s.startsWith('SELECT') && s.includes('COUNT')) return 'count'
  if (s.startsWith('SELECT')) return 'candidates'
  return s.split(/\s+/)[0]
}
async function timed<T>(l: string, p: () => Promise<T>): Promise<T> {
  const start = performance.now()
  try { return await p() } finally { spans.push({label: l, start, end: performance.now()}) }
}
function wrapExec(e: SqlExecutor): SqlExecutor {
  return {query: (s, p) => timed(label(s), () => e.query(s, p)), execute: (s, p) => timed(label(s), () => e.execute(s, p))}
}
export function traceSql(sql: SqlPort): SqlPort {
  return {...wrapExec(sql), version: () => sql.version(), transaction: (work) => timed('transaction', () => sql.transaction((tx) => work(wrapExec(tx))))}
}
export function tracePublisher(p: PublisherPort): PublisherPort {
  return {publishBatch: (m, o) => timed('publish', () => p.publishBatch(m, o)), close: () => p.close()}
}
export function report(total: number): string {
  const by = new Map<string, number[]>()
  for (const s of spans) { if (!by.has(s.label)) by.set(s.label, []); by.get(s.label)!.push(s.end - s.start) }
  const lines = [...by].map(([l, d]) => `${l}: n=${d.length} mean=${(d.reduce((a, b) => a + b, 0) / d.length).toFixed(1)}ms sum=${d.reduce((a, b) => a + b, 0).toFixed(0)}ms`)
  const pubs = spans.filter((s) => s.label === 'publish').sort((a, b) => a.start - b.start)
  let busy = 0, until = 0
  for (const s of pubs) { const st = Math.max(s.start, until); if (s.end > st) { busy += s.end - st; until = s.end } }
  lines.push(`publish busy fraction: ${(busy / total).toFixed(2)}`)
  return lines.join('\n')
}
