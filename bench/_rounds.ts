/** What the drain and replay benches share: cases run in alternating order over rounds, medians, one table. */
import {loadavg} from 'node:os'
import {writeFile} from 'node:fs/promises'
import {Session} from 'node:inspector/promises'

export interface Case {
  name: string
  /** An anchor is a reference (the broker's own rate); the ratio column divides by the first anchor. */
  anchor?: boolean
  /** One timed run: messages per second. */
  run(): Promise<number>
}

/** The prefix of a bench's own database, vhost and Redis keys (MSGOPS_BENCH_PREFIX, so that side-by-side sessions tell theirs apart). */
export const BENCH_PREFIX = process.env.MSGOPS_BENCH_PREFIX ?? 'msgops_bench'

export const load = () => loadavg().map((l) => l.toFixed(1)).join(' ')

/** Milliseconds of CPU (user + system) in a process.cpuUsage() difference. */
export const cpuMsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * Runs every case once per round, the order rotated each round (so no case always runs first, or right after the
 * same neighbour), and returns each case's rates in case order. The load average is taken before each round.
 */
export async function alternate(cases: Case[], rounds: number, between: () => Promise<void>, log: (line: string) => void): Promise<{rates: number[][]; loads: string[]}> {
  const rates = cases.map(() => [] as number[])
  const loads: string[] = []
  for (let round = 0; round < rounds; round++) {
    loads.push(load())
    const order = cases.map((_, i) => (i + round) % cases.length)
    for (const i of order) {
      const rate = await cases[i].run()
      rates[i].push(rate)
      log(`  round ${round + 1}: ${cases[i].name}: ${Math.round(rate).toLocaleString('en-US')} msg/s`)
      await between()
    }
  }
  return {rates, loads}
}

/** The table: each case's median rate, its rounds, and the ratio of its median to each anchor's median. */
export function table(cases: Case[], rates: number[][]): string {
  const anchors = cases.flatMap((c, i) => (c.anchor ? [{name: c.name, rate: median(rates[i])}] : []))
  const head = ['', 'median msg/s', 'rounds', ...anchors.map((a) => `÷ ${a.name}`)]
  const rows = cases.map((c, i) => {
    const m = median(rates[i])
    return [c.name, Math.round(m).toLocaleString('en-US'), rates[i].map((r) => Math.round(r).toLocaleString('en-US')).join(', '), ...anchors.map((a) => (m / a.rate).toFixed(2))]
  })
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)))
  const line = (cells: string[]) => '| ' + cells.map((cell, k) => (k === 0 ? cell.padEnd(widths[k]) : cell.padStart(widths[k]))).join(' | ') + ' |'
  return [line(head), '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |', ...rows.map(line)].join('\n')
}

/** Runs work under this process's CPU profiler when file is given, and writes the profile there (.cpuprofile, for Chrome DevTools). */
export async function profiled<T>(file: string | undefined, work: () => Promise<T>): Promise<T> {
  if (!file) return work()
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  try {
    return await work()
  } finally {
    const {profile} = await session.post('Profiler.stop')
    await writeFile(file, JSON.stringify(profile))
    session.disconnect()
  }
}
