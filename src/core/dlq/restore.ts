import {createHash} from 'node:crypto'
import {createReadStream, existsSync, readFileSync} from 'node:fs'
import {open as openFile, type FileHandle} from 'node:fs/promises'
import {createInterface} from 'node:readline'
import {createGunzip} from 'node:zlib'

import {OperationError, oneLine, UsageError} from '../errors.js'
import type {OutgoingMessage, ProgressCallback, PublisherPort} from '../ports.js'
import {sleep} from '../time.js'
import {describeLetter, type DeadLetterFacts} from './deaths.js'
import {type DeadLetterFilters, matcher, replayMessage, returnKey, type Target, targetOf, type TargetOverride} from './decide.js'
import type {DeadLetter} from './ports.js'

export interface RestoreOptions {
  /** The archive `dlq purge --archive` wrote (JSON lines; .gz read as gzip). */
  file: string
  /** Where restored lines are marked (default FILE.restored). */
  ledger: string
  filters: DeadLetterFilters
  override?: TargetOverride
  limit?: number
  rate?: number
  dryRun: boolean
  /** Messages published and confirmed together; at most this many can be in doubt after a crash. */
  batchSize: number
  errorHeaders: string[]
  publishTimeoutMs?: number
  now?: () => number
}

export interface RestoreReport {
  file: string
  ledger: string
  dryRun: boolean
  lines: number
  /** Marked done by an earlier run: not published again. */
  alreadyRestored: number
  /** Published (and confirmed, not returned) by this run; in a dry run, would be. */
  restored: number
  /** Returned, nacked or unconfirmed: not marked, so the next run tries them again. */
  failed: number
  /** Did not match the filters. */
  left: number
  /** No x-death to tell where it came from and no --to-exchange/--to-queue. */
  noTarget: number
  /** Not a line of a purge archive. */
  invalid: number
  /**
   * Lines an earlier run was publishing when it stopped without marking them: they may have reached the broker, so this
   * run published them again (message ids unchanged, for the consumer's inbox to deduplicate). At most one batch.
   */
  inDoubt: number[]
  targets: (Target & {count: number})[]
  failures: {line: number; messageId?: string; error: string}[]
  interrupted: boolean
  cancelled?: boolean
}

interface ArchivedLine {
  messageId?: string
  properties?: Record<string, unknown>
  headers?: Record<string, unknown>
  bodyEncoding?: 'utf8' | 'base64'
  body?: string
}

/** The ledger's record of an archive: the lines done, and those being published when a run stopped. */
interface LedgerState {
  done: Set<number>
  sending: Set<number>
  /** Fingerprint of the archive's first line: a ledger never applies to another file. */
  first?: string
}

const fingerprint = (line: string) => createHash('sha1').update(line).digest('hex').slice(0, 16)

function readLedger(path: string): LedgerState {
  const state: LedgerState = {done: new Set(), sending: new Set()}
  if (!existsSync(path)) return state
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (text.trim() === '') continue
    let entry: {archive?: string; sending?: number[]; done?: number[]}
    try {
      entry = JSON.parse(text)
    } catch {
      // A line cut short by a crash: what it would have said is redone.
      continue
    }
    if (entry.archive) state.first = entry.archive
    for (const n of entry.sending ?? []) state.sending.add(n)
    for (const n of entry.done ?? []) state.done.add(n)
  }
  for (const n of state.done) state.sending.delete(n)
  return state
}

/** Appends ledger entries, each written and fsynced before it counts. */
class Ledger {
  private constructor(private readonly file: FileHandle, readonly path: string) {}

  static async open(path: string): Promise<Ledger> {
    try {
      return new Ledger(await openFile(path, 'a'), path)
    } catch (error) {
      throw new UsageError(`cannot write the restore ledger ${path}: ${oneLine((error as NodeJS.ErrnoException).code ?? (error as Error).message)}`, 'check the path or give --ledger; nothing was published')
    }
  }

  async append(entry: object): Promise<void> {
    try {
      await this.file.write(`${JSON.stringify(entry)}\n`)
      await this.file.sync()
    } catch (error) {
      throw new OperationError(`cannot write the restore ledger ${this.path}: ${oneLine((error as Error).message)}`, 'free space and run again: lines not marked are published again', error)
    }
  }

  async close(): Promise<void> {
    await this.file.close().catch(() => {})
  }
}

/** The archive's lines, numbered from 1, streamed (bounded memory whatever its size). */
async function* archiveLines(file: string): AsyncGenerator<{n: number; text: string}> {
  if (!existsSync(file)) throw new UsageError(`the archive ${file} does not exist`, 'give the file that dlq purge --archive wrote')
  const stream = createReadStream(file)
  const input = file.endsWith('.gz') ? stream.pipe(createGunzip()) : stream
  let n = 0
  try {
    for await (const text of createInterface({input, crlfDelay: Number.POSITIVE_INFINITY})) {
      n++
      yield {n, text}
    }
  } catch (error) {
    throw new UsageError(`cannot read the archive ${file}: ${oneLine((error as Error).message)}`, 'check that it is the file dlq purge --archive wrote')
  }
}

/** Typed times as dates again (the archive keeps x-death times as ISO text), so that --older-than applies. */
function revive(headers: Record<string, unknown>): Record<string, unknown> {
  const deaths = headers['x-death']
  if (!Array.isArray(deaths)) return headers
  return {...headers, 'x-death': deaths.map((d) => (d && typeof d === 'object' && typeof (d as {time?: unknown}).time === 'string' ? {...d, time: new Date((d as {time: string}).time)} : d))}
}

/** One archive line as the dead letter it was, or a reason it is not one. */
export function letterOf(text: string): DeadLetter | string {
  let line: ArchivedLine
  try {
    line = JSON.parse(text)
  } catch {
    return 'not JSON'
  }
  if (!line || typeof line !== 'object' || typeof line.body !== 'string' || (line.bodyEncoding !== 'utf8' && line.bodyEncoding !== 'base64'))
    return 'not a dlq purge archive line (no body / bodyEncoding)'
  const body = Buffer.from(line.body, line.bodyEncoding === 'base64' ? 'base64' : 'utf8')
  const properties = {...(line.properties ?? {}), headers: revive(line.headers ?? {})} as DeadLetter['properties']
  return {tag: 0, body, properties, redelivered: false}
}

interface Candidate {
  n: number
  facts: DeadLetterFacts
  message: OutgoingMessage
  target: Target
}

/**
 * Publishes a purge archive back, once: each line that matches goes to its original exchange and routing key (first
 * x-death) or the override, with confirms and mandatory. Per batch the ledger first records the lines being sent, then,
 * after the broker confirmed them (not returned), records them done; a second run skips done lines. A crash between the
 * two leaves at most one batch in doubt: published again, and reported.
 */
export async function restoreArchive(publisher: PublisherPort | undefined, options: RestoreOptions, progress: ProgressCallback = () => {}, signal?: AbortSignal): Promise<RestoreReport> {
  const now = options.now ?? Date.now
  const state = readLedger(options.ledger)
  const report: RestoreReport = {
    file: options.file, ledger: options.ledger, dryRun: options.dryRun, lines: 0, alreadyRestored: 0, restored: 0, failed: 0, left: 0, noTarget: 0, invalid: 0,
    inDoubt: [], targets: [], failures: [], interrupted: false,
  }
  const matches = matcher(options.filters, now)
  const targets = new Map<string, Target & {count: number}>()
  const count = (target: Target) => {
    const key = JSON.stringify([target.exchange, target.routingKey])
    const entry = targets.get(key) ?? {...target, count: 0}
    entry.count++
    targets.set(key, entry)
  }
  const ledger = options.dryRun ? undefined : await Ledger.open(options.ledger)
  const started = now()
  let batch: Candidate[] = []
  let keys = new Set<string>()
  let planned = 0
  const flush = async () => {
    const items = batch
    batch = []
    keys = new Set()
    if (items.length === 0 || !publisher || !ledger) return
    await ledger.append({sending: items.map((i) => i.n)})
    let outcomes
    try {
      outcomes = await publisher.publishBatch(items.map((i) => i.message), {timeoutMs: options.publishTimeoutMs})
    } catch (error) {
      throw new OperationError(`publishing stopped: ${oneLine((error as Error).message)}`, `restored ${report.restored}; lines not marked done are published again by the next run`, error)
    }
    const done: number[] = []
    for (const [i, item] of items.entries()) {
      const outcome = outcomes[i]
      if (outcome.status === 'confirmed') {
        done.push(item.n)
        report.restored++
        count(item.target)
      } else {
        report.failed++
        if (report.failures.length < 100) report.failures.push({line: item.n, messageId: item.facts.messageId, error: outcome.reason})
      }
    }
    if (done.length > 0) await ledger.append({done})
    progress({done: report.restored, note: `line ${items.at(-1)!.n}`})
  }
  try {
    for await (const {n, text} of archiveLines(options.file)) {
      report.lines = n
      if (n === 1) {
        const first = fingerprint(text)
        if (state.first !== undefined && state.first !== first)
          throw new UsageError(`the ledger ${options.ledger} belongs to another archive (its first line differs)`, 'give this archive its own --ledger')
        if (state.first === undefined && ledger) await ledger.append({archive: first})
      }
      if (text.trim() === '') continue
      if (state.done.has(n)) {
        report.alreadyRestored++
        continue
      }
      if (signal?.aborted || (options.limit !== undefined && planned >= options.limit)) break
      const letter = letterOf(text)
      if (typeof letter === 'string') {
        report.invalid++
        if (report.failures.length < 100) report.failures.push({line: n, error: letter})
        continue
      }
      const facts = describeLetter(letter, options.errorHeaders)
      if (!matches(letter, facts)) {
        report.left++
        continue
      }
      const target = targetOf(facts, options.override)
      if (!target) {
        report.noTarget++
        continue
      }
      planned++
      if (state.sending.has(n)) report.inDoubt.push(n)
      if (options.dryRun) {
        report.restored++
        count(target)
        continue
      }
      if (options.rate !== undefined) {
        const due = started + ((planned - 1) / options.rate) * 1000
        if (due > now()) {
          await flush()
          await sleep(due - now(), signal)
        }
      }
      const message = replayMessage(letter, facts, target, new Date(now()))
      const key = returnKey(message)
      // Two messages alike in flight together could have their returns confused (returnKey): never in one batch.
      if (keys.has(key)) await flush()
      batch.push({n, facts, message, target})
      keys.add(key)
      if (batch.length >= options.batchSize) await flush()
    }
    await flush()
  } finally {
    await ledger?.close()
  }
  report.interrupted = signal?.aborted === true
  report.targets = [...targets.values()].sort((a, b) => b.count - a.count)
  return report
}

/** How many lines a restore would publish, for the question (a dry pass over the file). */
export async function countRestorable(options: RestoreOptions): Promise<RestoreReport> {
  return restoreArchive(undefined, {...options, dryRun: true, rate: undefined})
}
