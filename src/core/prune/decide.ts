/** The decisions of a prune, as pure functions: chunk size, throttling, partitions, the dedupe window. */

/** The smallest chunk: below it, the round trips cost more than the rows. */
export const MIN_CHUNK_SIZE = 10

export interface ChunkFeedback {
  /** The size asked for this chunk. */
  size: number
  /** Candidate rows the chunk really held (fewer at the end of the table). */
  rows: number
  /** How long the chunk took, from its candidate read to its commit. */
  elapsedMs: number
  /** --chunk-time */
  targetMs: number
  /** --max-chunk-size */
  max: number
}

/**
 * The next chunk's size, so that a chunk takes about --chunk-time (pt-table-checksum's rule: rows per second
 * measured on the last chunk times the target), moving at most ×2 or ÷2 per chunk so one odd chunk (a lock wait,
 * a cold page) does not swing it.
 *
 * | last chunk                                   | next size                                    |
 * | -------------------------------------------- | -------------------------------------------- |
 * | took no measurable time (elapsed ≤ 0)         | size × 2 (fast: grow)                        |
 * | held no row (rows = 0)                       | size (nothing learnt)                        |
 * | held fewer rows than asked (end, sparse)     | size when it was on time, else as below      |
 * | otherwise                                    | rows / elapsed × target                      |
 * | any result                                   | within [size ÷ 2, size × 2], then [10, max]  |
 * |                                              | (max wins where it is below 10)              |
 */
export function nextChunkSize(f: ChunkFeedback): number {
  // --max-chunk-size is a promise to the operator: it wins over the floor when it is below it.
  const clamp = (n: number) => Math.min(f.max, Math.max(MIN_CHUNK_SIZE, Math.round(n)))
  if (f.elapsedMs <= 0) return clamp(f.size * 2)
  if (f.rows <= 0) return clamp(f.size)
  if (f.rows < f.size && f.elapsedMs <= f.targetMs) return clamp(f.size)
  const ideal = (f.rows / f.elapsedMs) * f.targetMs
  return clamp(Math.min(f.size * 2, Math.max(f.size / 2, ideal)))
}

export interface LoadReading {
  /** Threads_running on the primary. */
  threadsRunning: number
  /** The primary's statements that read or write rows since it started (Com_select, Com_insert, …), this run's own included. */
  statements?: number
  /** When they were read (ms). */
  at?: number
  /** Each replica's lag in seconds; null when its replication is not running. */
  replicas: {name: string; lagS: number | null}[]
}

/**
 * Whether the next chunk may start (pt-archiver's --max-load and --check-slave-lag), and why not.
 * The prune's own connection is one of the running threads, so it is not counted.
 *
 * | Threads_running − 1 > --max-load | a replica's lag                 | decision                                   |
 * | -------------------------------- | ------------------------------- | ------------------------------------------ |
 * | yes                              | any                             | pause: "Threads_running N > M"             |
 * | no                               | null (replication not running)  | pause: "replica R: replication not running" |
 * | no                               | > --max-lag                     | pause: "replica R lags Ns > Ms"            |
 * | no                               | ≤ --max-lag, or no replicas     | go                                         |
 */
export function throttleReason(reading: LoadReading, limits: {maxLoad: number; maxLagS: number}): string | null {
  const others = reading.threadsRunning - 1
  if (others > limits.maxLoad) return `Threads_running ${others} > ${limits.maxLoad}`
  for (const replica of reading.replicas) {
    if (replica.lagS === null) return `replica ${replica.name}: replication not running`
    if (replica.lagS > limits.maxLagS) return `replica ${replica.name} lags ${replica.lagS}s > ${limits.maxLagS}s`
  }
  return null
}

/** --chunk-time when it is not given (full speed). */
export const DEFAULT_CHUNK_TIME = '500ms'

/** --pace: full speed, the polite setting, or (auto) polite only while others use the server. */
export type Pace = 'auto' | 'full' | 'polite'

/** Others' statements per second from which auto counts the server as in use (a monitoring scrape stays below it). */
export const BUSY_STATEMENTS_PER_S = 20
/** Auto stays polite this long after the last busy interval, so a bursty service does not meet a full-speed chunk. */
export const POLITE_HOLD_MS = 5000
/** The polite setting (docs/retention.md, "Beside a live service"): short chunks, each followed by a pause twice as long: a third of the server at most. */
export const POLITE_CHUNK_MS = 5
export const POLITE_SLEEP_COEF = 2

export interface PaceInput {
  pace: Pace
  /** Others' statements per second over the interval just read; undefined before the second reading. */
  othersPerS?: number
  /** When an interval was last busy (ms), if ever. */
  lastBusyAt?: number
  now: number
}

/**
 * Whether the next chunk runs polite (see POLITE_*) or at full speed. Others' statements are the primary's
 * Com_select + Com_insert + Com_update + Com_delete + Com_replace (and their multi-table forms) since the last
 * chunk, less this run's own. Flags the operator gave (--chunk-time, --sleep, --sleep-coef, --rate) win over the
 * polite setting's values in both modes.
 *
 * | --pace | others' statements/s, last interval | busy in the last POLITE_HOLD_MS | next chunk |
 * | ------ | ----------------------------------- | ------------------------------- | ---------- |
 * | full   | any                                 | any                             | full       |
 * | polite | any                                 | any                             | polite     |
 * | auto   | ≥ BUSY_STATEMENTS_PER_S             | any                             | polite     |
 * | auto   | below it                            | yes                             | polite     |
 * | auto   | below it                            | no                              | full       |
 * | auto   | unknown (first chunk)               | no                              | polite     |
 */
export function politeNext(p: PaceInput): boolean {
  if (p.pace !== 'auto') return p.pace === 'polite'
  if (p.othersPerS === undefined) return true
  if (p.othersPerS >= BUSY_STATEMENTS_PER_S) return true
  return p.lastBusyAt !== undefined && p.now - p.lastBusyAt < POLITE_HOLD_MS
}

/** Others' statements per second between two readings, this run's own `own` statements taken out. */
export function othersPerSecond(previous: LoadReading | undefined, current: LoadReading, own: number): number | undefined {
  if (previous?.statements === undefined || current.statements === undefined || previous.at === undefined || current.at === undefined) return undefined
  const seconds = (current.at - previous.at) / 1000
  if (seconds <= 0) return undefined
  return Math.max(0, current.statements - previous.statements - own) / seconds
}

/** The largest --sleep-coef: a typo beyond it would make the prune all but stop. */
export const MAX_SLEEP_COEF = 100

export interface NextStart {
  now: number
  /** When the run's first chunk started. */
  started: number
  /** Rows deleted so far. */
  deleted: number
  /** How long the last chunk took, from its candidate read to its commit. */
  chunkMs: number
  /** --rate: rows per second over the whole run. */
  rate?: number
  /** --sleep: a fixed pause between chunks. */
  sleepMs?: number
  /** --sleep-coef: a pause of this many times the last chunk's own time (pt-archiver's --sleep-coef). */
  sleepCoef?: number
}

/**
 * When the next chunk may start. The three are exclusive flags (the parser refuses two); --sleep-coef gives the
 * server a share of its time back: coef 1 leaves it idle of the prune half the time, whatever the chunk's size or the
 * server's speed, so the pause follows the chunk when the server slows down (measured in docs/retention.md).
 *
 * | --rate | --sleep | --sleep-coef | next chunk starts                                         |
 * | ------ | ------- | ------------ | --------------------------------------------------------- |
 * | R      | -       | -            | max(now, started + deleted / R): the run's average ≤ R     |
 * | -      | S       | -            | now + S                                                   |
 * | -      | -       | C            | now + C × the last chunk's time (never less than now)      |
 * | -      | -       | -            | now                                                       |
 */
export function nextStartMs(o: NextStart): number {
  if (o.rate !== undefined) return Math.max(o.now, o.started + (o.deleted / o.rate) * 1000)
  if (o.sleepMs !== undefined) return o.now + o.sleepMs
  if (o.sleepCoef !== undefined) return o.now + Math.max(0, o.sleepCoef * o.chunkMs)
  return o.now
}

/** --sleep-coef's value: a plain number above 0 and at most MAX_SLEEP_COEF, or the one-line reason it is not. */
export function parseSleepCoef(text: string): {coef: number} | {error: string} {
  const trimmed = text.trim()
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(trimmed)) return {error: `--sleep-coef "${text}" is not a number (give e.g. 1 for a pause as long as each chunk)`}
  const coef = Number(trimmed)
  if (!(coef > 0)) return {error: '--sleep-coef must be more than 0 (leave it out for no pause)'}
  if (coef > MAX_SLEEP_COEF) return {error: `--sleep-coef ${trimmed} is above ${MAX_SLEEP_COEF} (the prune would all but stop)`}
  return {coef}
}

export interface PartitionFacts {
  name: string
  /** MAXVALUE: the catch-all partition. */
  maxValue: boolean
  /** Every value in it is older than the cut: its upper bound is at or before the cut. */
  olderThanCut: boolean
  /** Rows in it that must stay (pending or dead-letter outbox rows, failed or unprocessed inbox records); at least this many. */
  mustStay: number
}

export type PartitionDecision = {name: string; action: 'drop'} | {name: string; action: 'keep'; why: 'catch-all' | 'too young' | 'last' | 'rows must stay'; mustStay?: number}

/**
 * Which partitions to drop, oldest first (the facts come in partition order).
 *
 * | partition                                  | decision                                  |
 * | ------------------------------------------ | ----------------------------------------- |
 * | MAXVALUE                                   | keep (catch-all: new rows land in it)     |
 * | upper bound after the cut                  | keep (too young)                          |
 * | older, but holds a row that must stay      | keep, reported with the count (exit 1)    |
 * | older and clean, but every other is dropped | keep (a table keeps one partition)        |
 * | older and clean                            | drop                                      |
 */
export function decidePartitions(facts: PartitionFacts[]): PartitionDecision[] {
  const decisions: PartitionDecision[] = facts.map((p) => {
    if (p.maxValue) return {name: p.name, action: 'keep', why: 'catch-all'}
    if (!p.olderThanCut) return {name: p.name, action: 'keep', why: 'too young'}
    if (p.mustStay > 0) return {name: p.name, action: 'keep', why: 'rows must stay', mustStay: p.mustStay}
    return {name: p.name, action: 'drop'}
  })
  const last: PartitionDecision | undefined = decisions.at(-1)
  const keepLast: PartitionDecision | undefined = last ? {name: last.name, action: 'keep', why: 'last'} : undefined
  if (keepLast && !decisions.some((d) => d.action !== 'drop')) decisions[decisions.length - 1] = keepLast
  return decisions
}

/**
 * Whether inbox prune may delete records this young.
 *
 * | --older-than vs inbox.dedupeWindow | --force-below-dedupe-window | decision                      |
 * | ---------------------------------- | --------------------------- | ----------------------------- |
 * | at least the window                | any                         | allowed                       |
 * | below the window                   | no                          | refused (exit 2)              |
 * | below the window                   | yes                         | allowed, with a warning       |
 */
export function dedupeWindowDecision(olderThanMs: number, windowMs: number, force: boolean): 'allowed' | 'refused' | 'forced' {
  if (olderThanMs >= windowMs) return 'allowed'
  return force ? 'forced' : 'refused'
}
