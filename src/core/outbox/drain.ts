import type {Config} from '../../config/schema.js'
import {publishLimitError} from '../amqp-limits.js'
import {formatDuration} from '../duration.js'
import {ConfigError, OperationError} from '../errors.js'
import type {OutgoingMessage, ProgressCallback, PublishOutcome, PublisherPort, SqlExecutor, SqlPort} from '../ports.js'
import type {Part} from '../part.js'
import {supportsSkipLocked} from '../sql.js'
import {type Clock, systemClock} from '../time.js'
import {type OutboxRow, OutboxRepository, type RowFilter} from './repository.js'
import {type OutboxTable, payloadText, resolveOutbox, rowHeaders} from './table.js'

export interface DrainPorts {
  sql: SqlPort
  publisher: PublisherPort
  /** Checked between batches: the batch in hand is finished (committed) first. */
  signal?: AbortSignal
  clock?: Clock
}

export interface DrainOptions {
  config: Config
  /**
   * Only rows created at least this long ago (default 30 s): younger ones are the application's own relay's business.
   * A table without a time column has no default (every pending row is eligible, with a note) and refuses a value above 0.
   */
  olderThanMs?: number
  /** At most this many rows in the whole run. */
  limit?: number
  /** Rows per transaction (default DEFAULT_BATCH_SIZE). */
  batchSize?: number
  /** A row whose failed attempts reach this becomes a dead letter (default 10). */
  maxAttempts?: number
  /** Messages per second at most. */
  ratePerSecond?: number
  /** Count and sample, publish nothing. */
  dryRun?: boolean
  /** How long to wait for the broker's confirms of one batch (default 30 s). */
  confirmTimeoutMs?: number
  /** Only these rows (e.g. reconcile --fix). */
  ids?: string[]
  /** Rows shown by a dry run (default 10). */
  sampleSize?: number
  /**
   * Batches waiting for the broker's confirms at once (default 3), each its own transaction on its own connection, and
   * as many committing (openTransactions): the broker confirms persistent messages only after its fsync, so it needs
   * many unconfirmed messages to reach its rate; 1 = one at a time.
   */
  pipeline?: number
  /** Add x-msgops-drained-at to every message (--mark-drained, outbox.markDrained; default no msgops header). */
  markDrained?: boolean
  /** Only this part of the rows (by a hash of the aggregate id): N drains side by side, each aggregate in one of them. */
  part?: Part
  /** A row waits while an earlier row of its aggregate is unsent (pending or dead letter): a consumer never sees event 2 before event 1. */
  ordered?: boolean
  /**
   * Asked once the eligible rows are counted, before any lock (the caller may take its lock after a yes); false cancels
   * without publishing. After a yes the eligible rows are counted again, and that count is the run's.
   */
  confirm?: (plan: DrainPlan) => Promise<boolean>
}

export interface DrainPlan {
  /** An estimate: counted before the answer and before any lock, so other drains may take some of these rows meanwhile. */
  eligible: number
  skipLocked: boolean
}

/** Why a drain found nothing to publish: the pending rows and what kept each group out. */
export interface DrainIdle {
  reason: string
  pending: number
  /** Pending rows younger than --older-than. */
  younger: number
  /** Pending rows old enough whose available_at is in the future. */
  notAvailable: number
}

export interface DrainSample {
  id: string
  eventType: string | null
  exchange: string
  routingKey: string
  attempts: number | null
  /** Null when the table has no time column. */
  ageMs: number | null
}

export interface DrainFailure {
  id: string
  outcome: 'returned' | 'nacked' | 'invalid'
  reason: string
  deadLettered: boolean
}

export interface DrainResult {
  dryRun: boolean
  cancelled: boolean
  /** SIGINT (or a lost lock) stopped the run between batches. */
  interrupted: boolean
  /** Pending rows old enough when the run began (capped by limit). */
  eligible: number
  /** Confirmed by the broker and not returned: now sent. */
  published: number
  /** Unroutable (mandatory): attempts + 1. */
  returned: number
  /** Refused by the broker: attempts + 1. */
  nacked: number
  /** Rows that could not be published at all (no exchange): attempts + 1. */
  invalid: number
  /** Failed rows that reached max attempts in this run. */
  deadLettered: number
  /** Pending rows old enough still there at the end. */
  remaining: number
  batches: number
  skipLocked: boolean
  elapsedMs: number
  /** Published rows per second over the run. */
  rate: number
  /** The first failures (at most 20), for the summary. */
  failures: DrainFailure[]
  /** Dry run: the first rows that would be published. */
  sample: DrainSample[]
  /** Things the operator should know (no SKIP LOCKED, no attempts column, no time column). */
  notes: string[]
  /** Set when no row was eligible: why. */
  idle: DrainIdle | null
}

/**
 * What happens to a row after its publish, decided from the broker's answer.
 *
 * | outcome            | attempts column | attempts + 1 >= max | row becomes                      |
 * | ------------------ | --------------- | ------------------- | -------------------------------- |
 * | confirmed          | any             | any                 | sent (sent_at = now)             |
 * | returned/nacked/invalid | present    | yes                 | dead letter, attempts + 1, error |
 * | returned/nacked/invalid | present    | no                  | pending, attempts + 1, error     |
 * | returned/nacked/invalid | absent     | -                   | pending, error (cannot count)    |
 */
export function decideRow(outcome: PublishOutcome['status'] | 'invalid', attempts: number | null, hasAttempts: boolean, maxAttempts: number): 'sent' | 'retry' | 'dead-letter' {
  if (outcome === 'confirmed') return 'sent'
  if (!hasAttempts) return 'retry'
  return (attempts ?? 0) + 1 >= maxAttempts ? 'dead-letter' : 'retry'
}

/**
 * The AMQP message of a row: body = payload JSON text, messageId = row id, contentType, type = event type, exchange and
 * routing key from the row or the configuration, and the row's own headers as the application wrote them. With
 * drainedAt (--mark-drained, outbox.markDrained) it adds x-msgops-drained-at: a headers table costs the broker part of
 * its rate, so nothing of msgops' own is added unless asked (docs/outbox.md, "What a drained message carries").
 */
export function toMessage(row: OutboxRow, table: OutboxTable, drainedAt?: string): OutgoingMessage | {invalid: string} {
  const exchange = row.exchange ?? table.exchange
  if (exchange === null) return {invalid: 'no exchange: the row has none and outbox.exchange is not configured'}
  const own = rowHeaders(row.headers)
  if ('invalid' in own) return own
  const properties: OutgoingMessage['properties'] = {messageId: row.id, contentType: 'application/json'}
  if (row.eventType) properties.type = row.eventType
  const headers = drainedAt === undefined ? own.headers : {...own.headers, [DRAINED_AT_HEADER]: drainedAt}
  // No table at all rather than an empty one: the broker and the client skip the property.
  for (const _ in headers) {
    properties.headers = headers
    break
  }
  const message = {exchange, routingKey: row.routingKey ?? table.routingKey ?? '', body: Buffer.from(payloadText(row.payload), 'utf8'), properties}
  // A row the protocol cannot carry would throw inside the batch (or close its channel): it is set aside alone.
  const limit = publishLimitError(message)
  return limit ? {invalid: limit} : message
}

/** The header --mark-drained adds: when msgops published the row (ISO 8601). */
export const DRAINED_AT_HEADER = 'x-msgops-drained-at'

/** Rows younger than this are left to the application's own relay, unless --older-than says otherwise. */
export const DEFAULT_OLDER_THAN_MS = 30_000

/** --ordered's passes stop once this many rows failed in the run (their ids are left out of the next pass in memory). */
const MAX_EXCLUDED = 10_000

/** Rows per batch (one transaction, one UPDATE per outcome, one commit). */
export const DEFAULT_BATCH_SIZE = 500

/**
 * Transactions open at once for `depth` batches waiting for the broker (--in-flight):
 *
 * | depth | open transactions | so                                                                            |
 * | ----- | ----------------- | ----------------------------------------------------------------------------- |
 * | 1     | 1                 | one batch at a time: committed before the next is locked (fewest duplicates)  |
 * | N > 1 | 2N                | N waiting for their confirms, and as many in their UPDATE and commit          |
 * A crash can leave every open transaction's rows published and uncommitted: they are sent again (docs/RELIABILITY.md).
 */
export function openTransactions(depth: number): number {
  return depth === 1 ? 1 : depth * 2
}

/** A fixed number of places, given in the order they were asked for; each release gives its place back once. */
class Slots {
  private readonly waiting: (() => void)[] = []

  constructor(private free: number) {}

  async take(): Promise<() => void> {
    if (this.free > 0) this.free--
    else await new Promise<void>((resolve) => this.waiting.push(resolve))
    let given = false
    return () => {
      if (given) return
      given = true
      const next = this.waiting.shift()
      if (next) next()
      else this.free++
    }
  }
}

/** Batches waiting for confirms (--in-flight); its figures against bare publishes, by `npm run bench -- drain`, are in bench/RESULTS.md#drain. */
export const DEFAULT_PIPELINE = 3

function positive(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback
  if (!Number.isFinite(v) || v <= 0) throw new ConfigError(`${what} must be a positive number, not ${v}`)
  return v
}

/**
 * Publishes pending outbox rows with confirms, in batches of one transaction each:
 * SELECT … FOR UPDATE [SKIP LOCKED] in id order, publish, wait for the confirms, one UPDATE per outcome, commit.
 * A row becomes sent only after a confirm that was not a return. If the channel or connection dies,
 * the batch rolls back (its rows stay pending, to be sent again with the same message id) and this throws.
 */
export async function drainOutbox(ports: DrainPorts, options: DrainOptions, onProgress?: ProgressCallback): Promise<DrainResult> {
  const clock = ports.clock ?? systemClock
  // Reset once the person has answered: the rate and the elapsed time are the run's, not the prompt's.
  let started = clock.now()
  const table = await resolveOutbox(ports.sql, options.config)
  const repo = new OutboxRepository(table)
  if (table.c.exchange === null && table.exchange === null)
    throw new ConfigError(`the outbox table "${table.name}" has no exchange column and outbox.exchange is not set`, 'set outbox.exchange (and outbox.routingKey) in the configuration')
  const timed = table.c.createdAt !== null
  // Without a time column the default cannot apply (said in a note); a given age can apply only when it is 0.
  if (!timed && options.olderThanMs !== undefined && options.olderThanMs > 0) repo.timeColumn('--older-than')
  const olderThanMs = timed ? (options.olderThanMs ?? DEFAULT_OLDER_THAN_MS) : undefined
  const maxAttempts = Math.floor(positive(options.maxAttempts, 10, 'max attempts'))
  const rate = options.ratePerSecond === undefined ? undefined : positive(options.ratePerSecond, 1, 'rate')
  let batchSize = Math.floor(positive(options.batchSize, DEFAULT_BATCH_SIZE, 'batch size'))
  if (rate !== undefined) batchSize = Math.max(1, Math.min(batchSize, Math.floor(rate)))
  const limit = options.limit === undefined ? Number.POSITIVE_INFINITY : Math.floor(positive(options.limit, 1, 'limit'))
  const timeoutMs = positive(options.confirmTimeoutMs, 30_000, 'confirm timeout')
  const skipLocked = supportsSkipLocked(await ports.sql.version())
  const notes: string[] = []
  if (!skipLocked) notes.push('this server lacks FOR UPDATE SKIP LOCKED: rows are locked with FOR UPDATE, so concurrent drains wait for each other; run it under the Redis lock')
  if (!repo.hasAttempts) notes.push(`the outbox table has no attempts column: failed rows stay pending and never become dead letters`)
  if (!timed) notes.push(`the outbox table "${table.name}" has no time column: every pending row is eligible, whatever its age (the default --older-than ${formatDuration(DEFAULT_OLDER_THAN_MS)} does not apply)`)

  const markDrained = options.markDrained ?? options.config.outbox.markDrained
  const markedAt = () => (markDrained ? new Date(clock.now()).toISOString() : undefined)
  const base: RowFilter = {status: table.statuses.pending, olderThanMs, availableOnly: true, ids: options.ids, part: options.part, ordered: options.ordered}
  if (options.ordered) repo.orderedBy()
  const result: DrainResult = {
    dryRun: options.dryRun === true, cancelled: false, interrupted: false, eligible: 0, published: 0, returned: 0, nacked: 0, invalid: 0,
    deadLettered: 0, remaining: 0, batches: 0, skipLocked, elapsedMs: 0, rate: 0, failures: [], sample: [], notes, idle: null,
  }
  result.eligible = Math.min(await repo.count(ports.sql, base), limit)

  const idle = () => whyIdle(repo, ports.sql, base, olderThanMs, options.olderThanMs === undefined)
  const finish = async (): Promise<DrainResult> => {
    result.remaining = await repo.count(ports.sql, base)
    result.elapsedMs = clock.now() - started
    result.rate = result.elapsedMs > 0 ? Math.round((result.published * 1000) / result.elapsedMs) : 0
    return result
  }

  if (options.dryRun) {
    const drainedAt = markedAt()
    const rows = await repo.rows(ports.sql, base, Math.min(options.sampleSize ?? 10, limit))
    result.sample = rows.map((row) => {
      const message = toMessage(row, table, drainedAt)
      const invalid = 'invalid' in message
      return {id: row.id, eventType: row.eventType, exchange: invalid ? '(none)' : message.exchange, routingKey: invalid ? '' : message.routingKey, attempts: row.attempts, ageMs: row.ageMs}
    })
    const missing = await missingOf(ports.publisher, result.sample.filter((s) => s.exchange !== '(none)').map((s) => s.exchange))
    for (const name of missing) notes.push(`exchange "${name}" does not exist: its rows would get an attempt and that error instead of being published`)
    if (result.eligible === 0) result.idle = await idle()
    return finish()
  }
  if (result.eligible === 0) {
    result.idle = await idle()
    return finish()
  }
  if (options.confirm) {
    if (!(await options.confirm({eligible: result.eligible, skipLocked}))) {
      result.cancelled = true
      return finish()
    }
    // Counted before the answer and the caller's lock: another drain may have sent some meanwhile.
    result.eligible = Math.min(await repo.count(ports.sql, base), limit)
    if (result.eligible === 0) {
      result.idle = await idle()
      return finish()
    }
  }
  started = clock.now()

  // Up to `depth` batches waiting for the broker, each its own transaction: a batch whose confirms are in gives its
  // place to the next one before its UPDATE and commit, and the next batches are locked ahead while the broker works,
  // so the broker is never idle during database work. Transactions open at once (locked ahead, published, committing)
  // are bounded by openTransactions.
  const depth = Math.floor(positive(options.pipeline, DEFAULT_PIPELINE, 'batches in flight'))
  const inflight = new Set<Promise<void>>()
  const slots = new Slots(depth)
  let failure: unknown
  /** The first and last id of the batch that failed, for the error. */
  let failedRows: string | undefined
  let afterId: string | undefined
  let claimedRows = 0
  /** Rows claimed before the current pass (--ordered makes several), the pass's filter, and the rows it must not retry. */
  let passStart = 0
  let pass = base
  const triedAndFailed = new Set<string>()
  /** Settled once the batch before has been handed to the publisher. */
  let publishTurn: Promise<void> = Promise.resolve()
  let handled = 0
  onProgress?.({done: 0, total: result.eligible, label: 'drain'})
  while (claimedRows < limit && failure === undefined) {
    if (ports.signal?.aborted) {
      result.interrupted = true
      break
    }
    const take = Math.min(batchSize, limit - claimedRows)
    let claimed!: (claim: {rows: number; lastId?: string; failed?: boolean}) => void
    const claim = new Promise<{rows: number; lastId?: string; failed?: boolean}>((resolve) => (claimed = resolve))
    /** Gives the batch's place back once the broker has answered (or the batch failed); at most once. */
    let answered = () => {}
    const cursor = afterId
    const work = ports.sql
      .transaction(async (tx) => {
        const {rows, lastCandidate} = await repo.lockBatch(tx, {...pass, afterId: cursor}, take, skipLocked)
        claimed({rows: rows.length, lastId: lastCandidate})
        if (rows.length === 0) return undefined
        try {
          return await publishAndRecord(tx, rows, (release) => (answered = release))
        } catch (error) {
          failedRows ??= rows.length === 1 ? `row ${rows[0].id}` : `${rows.length} rows, ids ${rows[0].id} to ${rows.at(-1)!.id}`
          throw error
        }
      })
      .then(
        (tally) => {
          // Counted only once the batch is committed.
          if (!tally) return
          for (const key of ['published', 'returned', 'nacked', 'invalid', 'deadLettered'] as const) result[key] += tally[key]
          for (const f of tally.failures) if (result.failures.length < 20) result.failures.push(f)
          result.batches++
          handled += tally.rows
          onProgress?.({done: handled, total: Math.max(result.eligible, handled), label: 'drain'})
        },
        (error: unknown) => {
          failure ??= error
          claimed({rows: 0, failed: true})
        },
      )
    inflight.add(work)
    void work.finally(() => {
      inflight.delete(work)
      answered()
    })
    const next = await claim
    if (next.failed) break
    // No candidates at all: the end of a pass. Candidates all held by another drain: move past them.
    if (next.lastId === undefined) {
      // Ordered: the rows sent in this pass unblock the next events of their aggregates, behind the cursor; once
      // they are committed, another pass from the start takes them. A pass that claims nothing ends the run.
      if (!options.ordered || claimedRows === passStart || triedAndFailed.size > MAX_EXCLUDED) break
      await Promise.all(inflight)
      if (failure !== undefined) break
      passStart = claimedRows
      afterId = undefined
      pass = {...base, notIds: [...triedAndFailed]}
      continue
    }
    afterId = next.lastId
    claimedRows += next.rows
    while (inflight.size >= openTransactions(depth)) await Promise.race(inflight)
    if (rate !== undefined) await clock.sleep(started + (claimedRows * 1000) / rate - clock.now(), ports.signal)
  }
  await Promise.all(inflight)
  if (failure !== undefined) {
    const done = `${result.published} published in committed batches`
    const which = failedRows ? ` (${failedRows})` : ''
    if (failure instanceof OperationError)
      throw new OperationError(`${failure.message}; the batch in hand${which} was rolled back (its rows stay pending), ${done}`, failure.suggestion, failure)
    throw failure
  }
  return finish()

  /** Takes a place among the `depth` batches waiting for the broker, and gives it back once the broker answered (before the UPDATE and commit). */
  async function publishAndRecord(tx: SqlExecutor, rows: OutboxRow[], placed: (release: () => void) => void): Promise<Tally & {rows: number}> {
    const drainedAt = markedAt()
    const messages: OutgoingMessage[] = []
    const publishedRows: OutboxRow[] = []
    const outcomes = new Map<OutboxRow, {status: PublishOutcome['status'] | 'invalid'; reason?: string}>()
    const candidates = rows.map((row) => ({row, message: toMessage(row, table, drainedAt)}))
    // Batches are handed to the publisher in id order (it writes them in that order): each waits for the one before to
    // have been handed over, whatever its own checks below take.
    const previous = publishTurn
    let release = () => {}
    let publishing: Promise<PublishOutcome[]> = Promise.resolve([])
    let handedOver!: () => void
    publishTurn = new Promise<void>((resolve) => (handedOver = resolve))
    try {
      await previous
      // One publish to a missing exchange closes the channel and fails the whole batch: such rows are set aside first.
      const missing = await missingOf(ports.publisher, candidates.flatMap(({message}) => ('invalid' in message ? [] : [message.exchange])))
      const sorted = sortBatch(candidates, missing)
      for (const {row, reason} of sorted.setAside) outcomes.set(row, {status: 'invalid', reason})
      for (const {row, message} of sorted.publish) {
        messages.push(message)
        publishedRows.push(row)
      }
      // Taken in id order (inside the turn): a batch locked ahead waits here for a place among those the broker holds.
      release = await slots.take()
      placed(release)
      // A dying channel rejects the whole batch (the publisher's contract), so every answer here is the broker's own.
      publishing = publishWithDeadline(ports.publisher, messages, timeoutMs)
    } finally {
      handedOver()
    }
    const answers = await publishing
    release()
    for (const [i, answer] of answers.entries()) outcomes.set(publishedRows[i], {status: answer.status, reason: 'reason' in answer ? answer.reason : undefined})
    // Ordered: a row that failed in this run is not tried again by a later pass (one attempt per run, as unordered).
    if (options.ordered) for (const [row, outcome] of outcomes) if (outcome.status !== 'confirmed') triedAndFailed.add(row.id)
    return {...(await applyOutcomes(tx, repo, outcomes, maxAttempts)), rows: rows.length}
  }
}

/**
 * Which rows of a batch are published and which are set aside (outcome invalid: an attempt and the reason) unpublished.
 *
 * | message of the row        | its exchange          | the row                                   |
 * | ------------------------- | --------------------- | ----------------------------------------- |
 * | invalid (no exchange)     | -                     | set aside with the message's reason       |
 * | valid                     | in missing            | set aside: exchange "X" does not exist    |
 * | valid                     | not in missing        | published                                 |
 */
export function sortBatch<R>(candidates: {row: R; message: OutgoingMessage | {invalid: string}}[], missing: ReadonlySet<string>): {publish: {row: R; message: OutgoingMessage}[]; setAside: {row: R; reason: string}[]} {
  const publish: {row: R; message: OutgoingMessage}[] = []
  const setAside: {row: R; reason: string}[] = []
  for (const {row, message} of candidates) {
    if ('invalid' in message) setAside.push({row, reason: message.invalid})
    else if (missing.has(message.exchange)) setAside.push({row, reason: missingExchangeReason(message.exchange)})
    else publish.push({row, message})
  }
  return {publish, setAside}
}

/** The reason recorded on a row whose exchange does not exist. */
export function missingExchangeReason(exchange: string): string {
  return `exchange "${exchange}" does not exist`
}

/** The distinct exchanges among names that the broker does not have; none when the publisher cannot tell. */
async function missingOf(publisher: PublisherPort, names: string[]): Promise<Set<string>> {
  if (!publisher.missingExchanges || names.length === 0) return new Set()
  return publisher.missingExchanges([...new Set(names)])
}

/**
 * Why no row was eligible, from two more counts on the (status, created_at) index:
 *
 * | pending rows | younger than --older-than | old enough, available_at in the future | reason                               |
 * | ------------ | ------------------------- | -------------------------------------- | ------------------------------------ |
 * | 0            | -                         | -                                      | no pending rows                      |
 * | P > 0        | Y > 0                     | any                                    | Y … younger than --older-than D      |
 * | P > 0        | any                       | A > 0                                  | A … not available yet (available_at) |
 * Both groups are named when both are there; rows that are young and not yet available count as young.
 */
export async function whyIdle(repo: OutboxRepository, on: SqlExecutor, base: RowFilter, olderThanMs: number | undefined, defaultAge: boolean): Promise<DrainIdle> {
  const pendingOnly: RowFilter = {status: base.status, ids: base.ids}
  const pending = await repo.count(on, pendingOnly)
  const old = olderThanMs === undefined ? pending : await repo.count(on, {...pendingOnly, olderThanMs})
  const idle = idleReason({pending, younger: pending - old, notAvailable: repo.table.c.availableAt ? old : 0}, olderThanMs, defaultAge, base.ids !== undefined)
  // Young rows "created" well after now were written in another time zone than the session's: they wait for hours.
  const future = pending - old > 0 ? await repo.count(on, {...pendingOnly, createdAfterNowMs: 60_000}) : 0
  return future > 0 ? {...idle, reason: `${idle.reason}; ${future.toLocaleString('en-US')} of them ha${future === 1 ? 's' : 've'} created_at in the future: written in another time zone than the database session's?`} : idle
}

/** The sentence of whyIdle's decision table; eligible was 0, so every old enough pending row is one not available yet. */
export function idleReason(counts: Omit<DrainIdle, 'reason'>, olderThanMs: number | undefined, defaultAge: boolean, byIds: boolean): DrainIdle {
  const rows = (k: number) => `${k.toLocaleString('en-US')} pending row${k === 1 ? ' is' : 's are'}`
  const parts: string[] = []
  if (counts.pending === 0) parts.push(byIds ? 'none of the given rows is pending' : 'no pending rows')
  if (counts.younger > 0 && olderThanMs !== undefined)
    parts.push(`${rows(counts.younger)} younger than --older-than ${formatDuration(olderThanMs)}${defaultAge ? ' (the default)' : ''}`)
  if (counts.notAvailable > 0) parts.push(`${rows(counts.notAvailable)} not available yet (available_at in the future)`)
  // The rows changed between the counts (another drain, the application): say what was seen.
  if (parts.length === 0) parts.push('no pending row was eligible when counted')
  return {...counts, reason: parts.join('; ')}
}

/** The publisher's own timeout covers the confirms; this also bounds a publish that never returns. */
async function publishWithDeadline(publisher: PublisherPort, messages: OutgoingMessage[], timeoutMs: number): Promise<PublishOutcome[]> {
  if (messages.length === 0) return []
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new OperationError(`RabbitMQ did not answer for ${messages.length} messages within ${timeoutMs + 5000} ms`, 'nothing unconfirmed was marked sent; check the broker and run again')),
      timeoutMs + 5000,
    )
  })
  try {
    return await Promise.race([publisher.publishBatch(messages, {timeoutMs}), deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** One UPDATE per outcome (sent; and per failure reason, retry or dead letter). */
async function applyOutcomes(
  tx: SqlExecutor,
  repo: OutboxRepository,
  outcomes: Map<OutboxRow, {status: PublishOutcome['status'] | 'invalid'; reason?: string}>,
  maxAttempts: number,
): Promise<Tally> {
  const result: Tally = {published: 0, returned: 0, nacked: 0, invalid: 0, deadLettered: 0, failures: []}
  const sent: string[] = []
  const failed = new Map<string, {ids: string[]; reason: string; dead: boolean}>()
  for (const [row, outcome] of outcomes) {
    const decision = decideRow(outcome.status, row.attempts, repo.hasAttempts, maxAttempts)
    if (decision === 'sent') {
      sent.push(row.id)
      continue
    }
    const status = outcome.status as 'returned' | 'nacked' | 'invalid'
    const reason = `${status}: ${outcome.reason ?? 'unknown'}`
    const dead = decision === 'dead-letter'
    const key = `${dead}|${reason}`
    if (!failed.has(key)) failed.set(key, {ids: [], reason, dead})
    failed.get(key)!.ids.push(row.id)
    result[status]++
    if (dead) result.deadLettered++
    if (result.failures.length < 20) result.failures.push({id: row.id, outcome: status, reason: outcome.reason ?? 'unknown', deadLettered: dead})
  }
  await repo.markSent(tx, sent)
  result.published += sent.length
  for (const group of failed.values()) await repo.markFailed(tx, group.ids, group.reason, group.dead)
  return result
}

type Tally = Pick<DrainResult, 'published' | 'returned' | 'nacked' | 'invalid' | 'deadLettered' | 'failures'>
