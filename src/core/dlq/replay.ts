import {publishLimitError} from '../amqp-limits.js'
import {OperationError, oneLine} from '../errors.js'
import type {OutgoingMessage, ProgressCallback, PublishOutcome, PublisherPort} from '../ports.js'
import {type DeadLetterFilters, decideReplay, matcher, replayMessage, returnKey, type Target, type TargetOverride} from './decide.js'
import type {DeadLetter, DeadLetterQueues, DeadLetterReader} from './ports.js'
import {readDeadLetters} from './read.js'
import {sleep} from '../time.js'

export interface ReplayOptions {
  queue: string
  filters: DeadLetterFilters
  override?: TargetOverride
  maxReplays: number
  /** Move at most this many messages. */
  limit?: number
  /** Messages per second at most. */
  rate?: number
  dryRun: boolean
  prefetch: number
  errorHeaders: string[]
  idleMs: number
  publishTimeoutMs?: number
  now?: () => number
}

export interface ReplayPorts {
  queues: DeadLetterQueues
  /** Not used (may be absent) in a dry run. */
  publisher?: PublisherPort
}

export interface TargetCount extends Target {
  count: number
}

export interface ReplayItemReport {
  messageId?: string
  group: string
  reason: string
}

export interface ReplayReport {
  queue: string
  depth: number
  read: number
  dryRun: boolean
  /** Published, confirmed, not returned, and acked (in a dry run: would be). */
  moved: number
  /** Publish returned (unroutable), nacked or unanswered: the dead letter stays in the queue. */
  failed: number
  /** Matched but not moved: at --max-replays, or nowhere to send it. Stays in the queue. */
  skipped: number
  /** Did not match the filters. Stays in the queue. */
  left: number
  targets: TargetCount[]
  failures: (ReplayItemReport & {target: Target; error: string})[]
  skips: (ReplayItemReport & {why: string; replayCount: number})[]
  /** Time spent reading and moving, from the first read to the last ack. */
  elapsedMs: number
  /** Why it stopped early: the channel died, confirms timed out. */
  stoppedBy?: string
  interrupted: boolean
  /** The person declined the confirmation: nothing was read. */
  cancelled?: boolean
}

/** The loop guard: a message already replayed this many times is left in place (--max-replays). */
export const DEFAULT_MAX_REPLAYS = 5

/** Reports list at most this many failures and skips; the counts are always complete. */
const DETAIL_LIMIT = 100
/**
 * A batch is an eighth of the prefetch window, so several are in flight and the window never runs dry: the broker
 * confirms in bursts (one per fsync). Each dead letter is acked at its own confirm, not at its batch's last (since
 * 2026-12-01 afternoon; the sizes below were measured before that, when a batch was acked whole). Measured at prefetch
 * 2,000 (bench/RESULTS.md#replay): batches of 250 × 12 in flight and 62 × 48 alike at about 0.8 of the raw loop in
 * process; 500 × 6 (a quarter, the old rule) slower in most rounds.
 */
const BATCHES_PER_WINDOW = 8
/** Small batches (deliveries trickling in) must not pile up: each one in flight holds its outcomes and timers. */
const MAX_BATCHES = 12

interface Item {
  letter: DeadLetter
  message: OutgoingMessage
  key: string
  info: ReplayItemReport
  target: Target
}

/**
 * Moves dead letters back: reads at most the depth seen at the start, decides per message (decideReplay),
 * publishes movers with confirms in pipelined batches and acks each dead letter as soon as its publish was
 * confirmed and not returned (its own confirm, not its batch's last). Everything else is held unacked and returned to the queue, in place, when the
 * reader closes at the end, so it is never read twice in a run.
 */
export async function replayDeadLetters(
  ports: ReplayPorts,
  options: ReplayOptions,
  progress: ProgressCallback = () => {},
  signal?: AbortSignal,
): Promise<ReplayReport> {
  const now = options.now ?? Date.now
  const state = await ports.queues.state(options.queue)
  const report: ReplayReport = {
    queue: options.queue, depth: state.messages, read: 0, dryRun: options.dryRun,
    moved: 0, failed: 0, skipped: 0, left: 0, targets: [], failures: [], skips: [], elapsedMs: 0, interrupted: false,
  }
  if (state.messages === 0) return report
  const publisher = ports.publisher
  if (!options.dryRun && !publisher) throw new Error('replayDeadLetters needs a publisher unless it is a dry run')
  // Every message would fail on an exchange the operator named that does not exist: a usage mistake, said before reading.
  const named = options.override && 'exchange' in options.override ? options.override.exchange : undefined
  if (named !== undefined && publisher?.missingExchanges && (await publisher.missingExchanges([named])).has(named))
    throw new OperationError(`RabbitMQ: exchange "${named}" does not exist`, 'declare it (msgops topology apply) or name another --to-exchange; nothing was moved')
  const matches = matcher(options.filters, now)
  const targets = new Map<string, TargetCount>()
  const countTarget = (target: Target) => {
    const k = JSON.stringify([target.exchange, target.routingKey])
    const entry = targets.get(k) ?? {...target, count: 0}
    entry.count++
    targets.set(k, entry)
  }
  const reader: DeadLetterReader = await ports.queues.open(options.queue, {prefetch: Math.max(1, options.prefetch)})
  const batchSize = Math.max(1, Math.floor(options.prefetch / BATCHES_PER_WINDOW))
  // The broker's prefetch already bounds unacked deliveries; this bounds memory if held ones make it roll consumers.
  const maxInFlight = Math.max(1, options.prefetch) * 2
  let messagesInFlight = 0
  const inFlight = new Set<Promise<void>>()
  const keysInFlight = new Map<string, number>()
  let batch: Item[] = []
  let batchKeys = new Set<string>()
  let planned = 0
  let stopped: Error | undefined
  const started = now()

  const fail = (item: Item, reason: string) => {
    reader.hold(item.letter)
    report.failed++
    if (report.failures.length < DETAIL_LIMIT) report.failures.push({...item.info, target: item.target, error: reason})
  }

  // A message the broker would refuse (a missing exchange closes the channel; an over-long field throws in the client)
  // fails alone and stays in the queue: published with the others, it would fail them all after some were copied.
  const setAside = async (items: Item[]): Promise<Item[]> => {
    const missing = publisher!.missingExchanges ? await publisher!.missingExchanges([...new Set(items.map((i) => i.message.exchange))]) : new Set<string>()
    const sendable: Item[] = []
    for (const item of items) {
      const reason = publishLimitError(item.message) ?? (missing.has(item.message.exchange) ? `exchange "${item.message.exchange}" does not exist` : null)
      if (reason) fail(item, `set aside: ${reason}`)
      else sendable.push(item)
    }
    return sendable
  }

  const flush = async () => {
    const items = batch
    batch = []
    batchKeys = new Set()
    if (items.length === 0) return
    while (inFlight.size >= MAX_BATCHES || (inFlight.size > 0 && messagesInFlight + items.length > maxInFlight)) await Promise.race(inFlight)
    if (stopped) {
      for (const item of items) fail(item, `not published: ${oneLine(stopped.message)}`)
      return
    }
    const sendable = await setAside(items)
    if (sendable.length === 0) return
    for (const item of sendable) keysInFlight.set(item.key, (keysInFlight.get(item.key) ?? 0) + 1)
    messagesInFlight += sendable.length
    // Each dead letter is settled at its own answer (onOutcome, at the confirm), so its ack goes out with the others
    // confirmed in the same event-loop turn instead of waiting for the whole batch; the resolved outcomes settle what
    // a publisher did not report one by one.
    const settled: boolean[] = Array.from({length: sendable.length}, () => false)
    const settle = (index: number, outcome: PublishOutcome) => {
      if (settled[index]) return
      settled[index] = true
      const item = sendable[index]
      if (outcome.status !== 'confirmed') fail(item, outcome.reason)
      else if (reader.ack(item.letter)) {
        report.moved++
        countTarget(item.target)
      } else fail(item, 'published, but the dead letter could not be acked (channel closed): it stays in the queue and may arrive twice')
    }
    const work: Promise<void> = publisher!
      .publishBatch(sendable.map((i) => i.message), {timeoutMs: options.publishTimeoutMs, onOutcome: settle})
      .then(
        (outcomes) => {
          for (const [index, outcome] of outcomes.entries()) settle(index, outcome)
        },
        (error: Error) => {
          // The channel died or confirms timed out: those not answered yet may or may not have arrived, so their
          // dead letters stay. A channel closed by the broker (e.g. a missing exchange) rejects the whole batch.
          stopped ??= error
          for (const [index, item] of sendable.entries()) if (!settled[index]) {
            settled[index] = true
            fail(item, `unconfirmed: ${oneLine(error.message)}`)
          }
        },
      )
      .finally(() => {
        inFlight.delete(work)
        messagesInFlight -= sendable.length
        for (const item of sendable) {
          const n = (keysInFlight.get(item.key) ?? 1) - 1
          if (n === 0) keysInFlight.delete(item.key)
          else keysInFlight.set(item.key, n)
        }
        progress({done: report.read, total: state.messages})
      })
    inFlight.add(work)
  }

  try {
    await readDeadLetters(reader, report, {depth: state.messages, idleMs: options.idleMs, errorHeaders: options.errorHeaders, signal}, {
      wantsMore: () => !stopped && (options.limit === undefined || planned < options.limit),
      hasBatch: () => batch.length > 0,
      flush,
      // The reading channel died: what it held went back to the queue; report what was done so far.
      readFailed: (error) => (stopped ??= error),
      async take(letter, facts) {
        const decision = decideReplay(facts, matches(letter, facts), {maxReplays: options.maxReplays, override: options.override})
        const info = {messageId: facts.messageId, group: facts.group, reason: facts.reason}
        if (decision.action === 'leave') {
          reader.hold(letter)
          report.left++
        } else if (decision.action === 'skip') {
          reader.hold(letter)
          report.skipped++
          if (report.skips.length < DETAIL_LIMIT) report.skips.push({...info, why: decision.why, replayCount: facts.replayCount})
        } else if (options.dryRun) {
          reader.hold(letter)
          planned++
          report.moved++
          countTarget(decision.target)
        } else {
          planned++
          if (options.rate) {
            const due = started + ((planned - 1) / options.rate) * 1000
            if (due > now()) {
              await flush()
              await sleep(due - now(), signal)
            }
          }
          const message = replayMessage(letter, facts, decision.target, new Date(now()))
          const key = returnKey(message)
          if (batchKeys.has(key) || keysInFlight.has(key)) {
            await flush()
            await Promise.all(inFlight)
          }
          batch.push({letter, message, key, info, target: decision.target})
          batchKeys.add(key)
          if (batch.length >= batchSize) await flush()
        }
        if (options.dryRun && report.read % 100 === 0) progress({done: report.read, total: state.messages})
      },
    })
    await Promise.all(inFlight)
  } finally {
    // Settle what is in flight before closing, so that nothing confirmed is returned unacked.
    await Promise.allSettled(inFlight)
    await reader.close()
  }
  progress({done: report.read, total: state.messages})
  report.elapsedMs = Math.round(now() - started)
  report.targets = [...targets.values()].sort((a, b) => b.count - a.count)
  report.interrupted = signal?.aborted === true
  if (stopped) report.stoppedBy = oneLine(stopped.message)
  return report
}
