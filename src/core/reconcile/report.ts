import type {Part} from '../part.js'
import type {ProgressCallback, SqlPort} from '../ports.js'
import type {Heartbeat} from '../replica.js'
import type {ReconcileStore} from './checkpoint.js'
import type {CheckName} from './checks.js'
import type {CachePort, DrainPort} from './ports.js'
import type {KeyRanges} from './ranges.js'
import type {ThrottleLimits} from './throttle.js'
import {type ScanRow, text} from './scan.js'
import type {TimeSpec} from './window.js'

export interface Sample {
  id: string
  /** The row's timestamp (database time), or null when the table has none. */
  at: string | null
  detail?: string
}

export interface CheckResult {
  count: number
  oldest: string | null
  samples: Sample[]
  /** Set when the check could not run on this schema; count is then 0. */
  skipped?: string
}

export interface ReconcileWindow {
  since: string
  until: string | null
  grace: string
  /** Rows at or before this time are past the grace period. */
  cutoff: string
  now: string
}

export interface ReconcileReport {
  window: ReconcileWindow
  checks: Partial<Record<CheckName, CheckResult>>
  /** The checks answered by the merge plan (the others: one lookup per row). */
  merged: CheckName[]
  total: number
  durationMs: number
  /** With --part: which part, of which run (the plan its parts share), and its key ranges. */
  part?: {index: number; count: number; run: string; ranges: KeyRanges}
  /** The chunks read by this run, and those a --resume took from the checkpoint instead of reading them again. */
  chunks?: {read: number; resumed: number}
  /** Reading from a replica: its lag when the run started, how far the grace was widened for it, candidates it had only late. */
  replica?: {url: string; lagS: number; widenedMs: number; late: number}
  /** Time spent paused on --max-load or --max-lag. */
  pausedMs?: number
}

export interface ReconcileOptions {
  checks: CheckName[]
  since: TimeSpec
  until?: TimeSpec
  graceMs: number
  /** Sample ids kept per check. */
  sample: number
  /** Rows per SQL page and keys per Redis pipeline. */
  batchSize?: number
  /**
   * How order_without_message, sent_not_consumed and orphan_consumed find rows without a partner: 'lookup' (an index
   * lookup per row), 'merge' (the key columns read once and compared, see merge.ts) or 'auto' (merge when the window
   * covers the tables, the default). Both give the same findings.
   */
  plan?: 'auto' | 'lookup' | 'merge'
  /** Keys per page of the merge plan (default 10,000). */
  mergePage?: number
  /** --part I/N: one of N disjoint key ranges (ranges.ts). */
  part?: Part
  /** Each chunk should take about this long; 0: the whole range in one chunk. */
  chunkTimeMs?: number
  /** Keys per table in the first chunk. */
  chunkSize?: number
  throttle?: ThrottleLimits
  /** --resume: go on from the checkpoint of this window and part. */
  resume?: boolean
  signal?: AbortSignal
  onProgress?: ProgressCallback
  /** A line about the run's state: a pause and its reason, the end of a pause, a checkpoint not used. */
  onNote?: (text: string) => void
}

export interface ReconcilePorts {
  /** The primary: every write, the window's clock and every final check of a finding read on a replica. */
  sql: SqlPort
  /** A read replica the scans read instead of the primary; name: host:port as shown. */
  replica?: {sql: SqlPort; name: string; url: string; heartbeat?: Heartbeat | null}
  /** Checkpoints (--resume) and the plan the parts of a run share; without it a part plans alone and nothing is resumable. */
  store?: ReconcileStore
  /** The store's key prefix (redis.keyPrefix). */
  storePrefix?: string
  /** Needed for cache_drift. */
  cache?: CachePort
  /** Needed to fix message_stuck; without it the rows are reported as not fixed. */
  drain?: DrainPort
}

export const DEFAULT_BATCH = 10_000

/**
 * Keeps the count, the oldest time and the oldest samples (by time, then id) of a check, whatever the number of
 * findings and whatever order they are found in (time order, key order or merged candidates).
 */
export class Tally {
  count = 0
  oldest: string | null = null
  private samples: Sample[] = []
  constructor(private readonly keep: number) {}

  add(sample: Sample): void {
    this.count++
    if (sample.at !== null && (this.oldest === null || sample.at < this.oldest)) this.oldest = sample.at
    if (this.keep === 0) return
    this.samples.push(sample)
    if (this.samples.length >= this.keep * 2 + 64) this.trim()
  }

  result(): CheckResult {
    this.trim()
    return {count: this.count, oldest: this.oldest, samples: this.samples}
  }

  private trim(): void {
    this.samples.sort(bySampleAge)
    this.samples.length = Math.min(this.samples.length, this.keep)
  }
}

/** Oldest first; a sample without a time after those with one; then by id. */
function bySampleAge(a: Sample, b: Sample): number {
  if (a.at !== b.at) return a.at === null ? 1 : b.at === null ? -1 : a.at < b.at ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * Two results of one check (two chunks, two parts) as one: counts added, the older oldest, the oldest samples of both
 * (by time, then id) up to `keep`; a skipped check stays skipped.
 */
export function addResults(a: CheckResult | undefined, b: CheckResult, keep: number): CheckResult {
  if (!a) return {...b, samples: [...b.samples].sort(bySampleAge).slice(0, keep)}
  const skipped = a.skipped ?? b.skipped
  const oldest = a.oldest === null ? b.oldest : b.oldest === null ? a.oldest : a.oldest < b.oldest ? a.oldest : b.oldest
  const samples = [...a.samples, ...b.samples].sort(bySampleAge).slice(0, keep)
  return {count: a.count + b.count, oldest, samples, ...(skipped === undefined ? {} : {skipped})}
}

export function sampleOf(row: ScanRow, detail?: string): Sample {
  const d = detail ?? text(row.detail) ?? undefined
  return {id: String(row._k0), at: row._ts, ...(d === undefined ? {} : {detail: d})}
}
