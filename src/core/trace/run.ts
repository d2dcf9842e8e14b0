import type {Config} from '../../config/schema.js'
import {ConnectionError, UsageError} from '../errors.js'
import {type BrokerOptions, type BrokerPorts, BrokerView} from './broker.js'
import {configuredSchema, FirstRoundError, type Gathered, gatherBatch, type GatherPorts, type KindHint, loadTraceSchema, type TraceSchema} from './gather.js'
import {HEALTHY, type TimelineEvent, type Trace, type TraceOutbox, type TraceState} from './model.js'
import {decideVerdict} from './verdict.js'

export interface TraceOptions {
  kind: KindHint
  graceMs: number
  broker: Omit<BrokerOptions, 'vhost'> & {vhost: string}
  /** Ids per batch of lookups (default 1000): one IN (...) list per table and round. */
  batchSize?: number
}

export interface TracePorts extends GatherPorts {
  broker: BrokerPorts
}

/** What a run over many ids adds up to. */
export interface TraceSummary {
  total: number
  counts: Partial<Record<TraceState, number>>
  /** Ids found nowhere, the first 10. */
  notFound: string[]
}

export const DEFAULT_BATCH = 1000

/**
 * Traces ids in batches: each batch is gathered with batched lookups (gather.ts), then given its broker part, its
 * timeline, verdict and repair. Yields each batch once done, so a caller can print as it goes; memory holds one
 * batch of ids and the run's broker caches (one read of each dead-letter queue, bounded by its --limit).
 */
export async function* traceIds(ports: TracePorts, config: Config, options: TraceOptions, ids: AsyncIterable<string> | Iterable<string>): AsyncGenerator<Trace[]> {
  let known: Known | undefined
  const size = options.batchSize ?? DEFAULT_BATCH
  let batch: string[] = []
  const flush = async () => {
    let traces: Trace[]
    if (known) traces = await traceBatch(ports, known, config, options, batch).catch((error: unknown) => Promise.reject(unwrap(error)))
    else {
      const found = await firstBatch(ports, config, options, batch)
      known = found.known
      traces = found.traces
    }
    batch = []
    return traces
  }
  try {
    for await (const id of ids) {
      batch.push(id)
      if (batch.length >= size) yield await flush().catch((error: unknown) => Promise.reject(new TracedError(error)))
    }
  } catch (error) {
    // A bad mapping is reported before a bad ids file, as when the schema was read before the first id.
    if (!known && !(error instanceof TracedError)) await loadTraceSchema(ports.sql, config)
    throw error instanceof TracedError ? error.cause : error
  }
  if (batch.length > 0) yield await flush()
  // No id at all: the mapping is still checked, as a run with ids would have.
  else if (!known) await loadTraceSchema(ports.sql, config)
}

/**
 * The first batch, under the mapping as configured, without reading information_schema: when both statements of
 * round 1 succeed, every mapped column they name exists, which is what the schema read would have told (an integer id
 * column only changes which ids are sent: a row comes back under its own id, for which no other id is taken). When one
 * fails, information_schema is read (its errors are the ones reported: a missing table or column, named) and the batch
 * runs again as it says.
 */
async function firstBatch(ports: TracePorts, config: Config, options: TraceOptions, ids: string[]): Promise<{known: Known; traces: Trace[]}> {
  const broker = new BrokerView(ports.broker, options.broker)
  let configured: TraceSchema | undefined
  try {
    configured = configuredSchema(config)
  } catch {
    // A mapping error is loadTraceSchema's to report, after its own checks.
  }
  if (configured) {
    const known = {schema: configured, broker}
    try {
      return {known, traces: await traceBatch(ports, known, config, options, ids)}
    } catch (error) {
      if (!(error instanceof FirstRoundError) || error.cause instanceof ConnectionError) throw unwrap(error)
    }
  }
  const known = {schema: await loadTraceSchema(ports.sql, config), broker}
  try {
    return {known, traces: await traceBatch(ports, known, config, options, ids)}
  } catch (error) {
    throw unwrap(error)
  }
}

interface Known {
  schema: TraceSchema
  broker: BrokerView
}

/** An error of a batch, told apart from one of the ids' source. */
class TracedError extends Error {
  constructor(readonly cause: unknown) {
    super((cause as Error).message)
  }
}

function unwrap(error: unknown): unknown {
  return error instanceof FirstRoundError ? error.cause : error
}

async function traceBatch(ports: TracePorts, known: Known, config: Config, options: TraceOptions, ids: string[]): Promise<Trace[]> {
  const {schema, broker} = known
  const gathered = await gatherBatch(ports, schema, ids, options.kind, config.cache.keyPattern, (rows) => broker.prefetch(rows))
  const traces: Trace[] = []
  // One at a time: the broker's caches make every later id of the same route free.
  for (const g of gathered) traces.push(await finish(g, schema, broker, options))
  return traces
}

/** The database says it was sent and nobody has consumed it: only then is a dead-letter queue read (or --scan-dlq). */
function sentNotConsumed(g: Gathered, m: TraceOutbox): boolean {
  if (m.state !== 'sent' || g.inbox === null) return false
  const records = g.inbox.filter((r) => r.messageId === m.id)
  return records.length === 0 || records.some((r) => r.state !== 'processed')
}

async function finish(g: Gathered, schema: TraceSchema, broker: BrokerView, options: TraceOptions): Promise<Trace> {
  const brokerPart = g.kind === 'none' ? {queues: null, deadLetterQueues: [], dlq: {state: 'not_read' as const, read: 0, found: []}, notes: []} : await broker.describe(g.outbox, (m) => sentNotConsumed(g, m))
  const decision = decideVerdict({
    kind: g.kind, order: g.order, linkable: schema.linkable, orderMissing: g.orderMissing, outbox: g.outbox, inbox: g.inbox, cache: g.cache,
    dlq: {...brokerPart.dlq, queues: brokerPart.deadLetterQueues}, graceMs: options.graceMs,
  })
  const trace: Trace = {
    id: g.id, kind: g.kind, order: g.order, outbox: g.outbox, audit: g.audit, inbox: g.inbox ?? [], cache: g.cache, broker: brokerPart,
    timeline: [], verdict: {state: decision.state, text: decision.text}, repair: decision.repair, notes: g.notes,
  }
  trace.timeline = timeline(trace)
  return trace
}

const STEP: TimelineEvent['event'][] = ['committed', 'audit', 'sent', 'dead-lettered', 'received', 'consume failed', 'consumed', 'order updated', 'cached']

/** Every step with a time, by time (ties in the order of the pipeline); steps without a time last, in pipeline order. */
export function timeline(t: Trace): TimelineEvent[] {
  const events: TimelineEvent[] = []
  if (t.order) events.push({at: t.order.createdAt, event: 'committed', detail: `order ${t.order.id}${t.order.status === null ? '' : ` (${t.order.status})`}`})
  for (const m of t.outbox) {
    events.push({at: m.createdAt, event: 'committed', detail: `outbox ${m.id}${m.eventType ? ` ${m.eventType}` : ''}`})
    if (m.sentAt || m.state === 'sent') events.push({at: m.sentAt, event: 'sent', detail: `${m.id} to ${m.exchange ?? '(default exchange)'}${m.routingKey ? ` [${m.routingKey}]` : ''}`})
  }
  for (const a of t.audit) events.push({at: a.at, event: 'audit', detail: `${a.recorded ? '' : 'may have touched it: '}msgops ${a.command} (${a.action}) by ${a.osUser}@${a.host}, exit ${a.exitCode}`})
  for (const d of t.broker.dlq.found) events.push({at: d.at, event: 'dead-lettered', detail: `${d.messageId} in ${d.queue}: ${d.reason} by ${d.from}${d.error ? ` (${d.error})` : ''}`})
  for (const r of t.inbox) {
    const who = r.consumer ?? 'consumer'
    events.push({at: r.receivedAt, event: 'received', detail: `${r.messageId} by ${who}`})
    if (r.state === 'processed') events.push({at: r.processedAt, event: 'consumed', detail: `${r.messageId} by ${who}`})
    if (r.state === 'failed') events.push({at: r.processedAt, event: 'consume failed', detail: `${r.messageId} by ${who}${r.lastError ? `: ${r.lastError}` : ''}`})
  }
  if (t.order?.updatedAt && t.order.updatedAt !== t.order.createdAt) events.push({at: t.order.updatedAt, event: 'order updated', detail: `order ${t.order.id}`})
  if (t.cache.state !== 'unknown') events.push({at: null, event: 'cached', detail: t.cache.state === 'missing' ? `${t.cache.key} missing` : `${t.cache.key} = ${t.cache.value ?? t.cache.reason ?? ''} (${t.cache.state})`})
  const rank = (e: TimelineEvent) => STEP.indexOf(e.event)
  return events
    .map((e, n) => ({e, n}))
    .sort((a, b) => {
      if (a.e.at !== b.e.at) return a.e.at === null ? 1 : b.e.at === null ? -1 : a.e.at < b.e.at ? -1 : 1
      return rank(a.e) - rank(b.e) || a.n - b.n
    })
    .map(({e}) => e)
}

/** Counts per state, and the ids found nowhere (the first 10 kept for the one line naming them). */
export class TraceTally implements TraceSummary {
  total = 0
  counts: Partial<Record<TraceState, number>> = {}
  notFound: string[] = []
  notFoundCount = 0
  unhealthy = 0

  add(trace: Trace): void {
    this.total++
    this.counts[trace.verdict.state] = (this.counts[trace.verdict.state] ?? 0) + 1
    if (trace.verdict.state === 'not_found') {
      this.notFoundCount++
      if (this.notFound.length < 10) this.notFound.push(trace.id)
    } else if (!HEALTHY.has(trace.verdict.state)) this.unhealthy++
  }

  /** The one line naming the ids found nowhere (exit 2). */
  notFoundError(): UsageError | undefined {
    if (this.notFoundCount === 0) return undefined
    const more = this.notFoundCount > this.notFound.length ? ` and ${this.notFoundCount - this.notFound.length} more` : ''
    const names = this.notFound.map((id) => JSON.stringify(id)).join(', ')
    return new UsageError(
      this.notFoundCount === 1 ? `no order, outbox row or inbox record has id ${names}` : `${this.notFoundCount} ids exist nowhere: ${names}${more}`,
      'check the id (an order id or a message id), and the database the configuration points at',
    )
  }
}
