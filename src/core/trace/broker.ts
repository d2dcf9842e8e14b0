import {describeLetter} from '../dlq/deaths.js'
import type {DeadLetterQueues} from '../dlq/ports.js'
import {oneLine} from '../errors.js'
import type {DeadLetterFound, DlqState, QueueFigures, TraceBroker, TraceOutbox} from './model.js'

/** The RabbitMQ management API as trace reads it (src/adapters/management.ts ManagementClient). */
export interface ManagementPort {
  get<T = unknown>(path: string): Promise<T>
}

export interface BrokerOptions {
  vhost: string
  /** Dead-letter queues named by --dlq; else those the destination queues dead-letter to (x-dead-letter-exchange). */
  dlqs?: string[]
  /** Read every traced sent message's dead-letter queues, not only when the database says it was not consumed. */
  scanAll: boolean
  /** Messages read per dead-letter queue at most. */
  limit: number
  idleMs: number
  errorHeaders: string[]
  prefetch?: number
}

export interface BrokerPorts {
  /** Null: no management API configured or reachable (queue figures unknown, said so). */
  management: ManagementPort | null
  /** Opened only when a dead-letter queue is read. */
  deadLetters: () => Promise<DeadLetterQueues>
}

interface Route {
  queue: string
  figures: QueueFigures
  /** Where the queue dead-letters to: its DLX and routing key (null: the message's own). */
  dlx: {exchange: string; routingKey: string | null} | null
}

interface Scan {
  read: number
  depth: number
  why?: string
  letters: Map<string, DeadLetterFound>
}

/** Always said: the destination queues are never read, only counted. */
export const LIVE_QUEUE_NOTE = 'destination queues are never read (it would hide their messages from their consumers): depth and consumers are the management API\'s'

/**
 * What the broker says about traced messages, without taking anything: the destination queues' depth and consumers
 * (management API, bindings followed from the message's exchange and routing key), and whether a message sits in a
 * dead-letter queue (read once per run with the hold-and-return of `dlq inspect`, bounded by --limit, never a queue
 * with consumers). Routes, queues and scans are cached for the run, so 1,000 ids cost what their distinct routes cost.
 */
export class BrokerView {
  private readonly routes = new Map<string, Promise<Route[] | null>>()
  private readonly queues = new Map<string, Promise<{figures: QueueFigures; dlx: Route['dlx']} | null>>()
  private readonly scans = new Map<string, Promise<Scan>>()
  private managementDown?: string
  private readonly notes = new Set<string>()

  constructor(
    private readonly ports: BrokerPorts,
    private readonly options: BrokerOptions,
  ) {}

  /** The broker's part of one trace: `needsDlq` when the database says a message was sent and not consumed. */
  async describe(outbox: TraceOutbox[], needsDlq: (m: TraceOutbox) => boolean): Promise<TraceBroker> {
    const notes: string[] = [LIVE_QUEUE_NOTE]
    const routed = await Promise.all(outbox.map(async (m) => ({m, routes: await this.routesOf(m)})))
    const known = routed.every((r) => r.routes !== null)
    const figures = new Map<string, QueueFigures>()
    for (const r of routed) for (const route of r.routes ?? []) figures.set(route.queue, route.figures)
    if (!known && this.managementDown) notes.push(`queue figures unknown: ${this.managementDown}`)
    const wanted = outbox.filter((m) => m.state === 'sent' && (this.options.scanAll || needsDlq(m)))
    const dlqNames = new Set<string>()
    for (const r of routed) for (const q of this.options.dlqs ?? (await this.deadLetterQueuesOf(r.routes ?? []))) dlqNames.add(q)
    const live = new Set(figures.keys())
    const deadLetterQueues = [...dlqNames].filter((q) => !live.has(q))
    for (const q of dlqNames) if (live.has(q)) notes.push(`${q} is a destination queue: not read as a dead-letter queue`)
    const dlq: TraceBroker['dlq'] = {state: 'not_read', read: 0, found: []}
    if (wanted.length === 0) dlq.why = outbox.some((m) => m.state === 'sent') ? 'the database says every sent message was consumed (--scan-dlq reads them anyway)' : 'no message was sent'
    else if (deadLetterQueues.length === 0)
      dlq.why = this.options.dlqs ? 'every --dlq queue is a destination queue' : this.managementDown ? `no dead-letter queue known (${this.managementDown}); name one with --dlq` : 'the destination queues dead-letter nowhere; name a dead-letter queue with --dlq'
    else {
      const scans = await Promise.all(deadLetterQueues.map(async (q) => ({q, scan: await this.scan(q)})))
      const unread = scans.filter((s) => s.scan.why !== undefined)
      for (const s of unread) notes.push(`${s.q} not read: ${s.scan.why}`)
      dlq.read = scans.reduce((sum, s) => sum + s.scan.read, 0)
      for (const m of wanted) for (const s of scans) {
        const letter = s.scan.letters.get(m.id)
        if (letter) dlq.found.push(letter)
      }
      const complete = scans.every((s) => s.scan.why === undefined && s.scan.read >= s.scan.depth)
      const state: DlqState = dlq.found.length > 0 ? 'found' : unread.length === scans.length ? 'not_read' : complete ? 'absent' : 'partial'
      dlq.state = state
      if (state === 'not_read') dlq.why = unread.map((s) => `${s.q}: ${s.scan.why}`).join('; ')
    }
    for (const note of this.notes) notes.push(note)
    return {queues: known ? [...figures.values()] : null, deadLetterQueues: [...dlqNames], dlq, notes}
  }

  /**
   * Starts the management API reads of these messages' routes and dead-letter queues, so that they run while the
   * database is still being read; describe() then finds them cached. Errors wait there too (describe handles them).
   */
  prefetch(outbox: TraceOutbox[]): void {
    for (const m of outbox)
      this.routesOf(m)
        .then((routes) => (this.options.dlqs ? undefined : this.deadLetterQueuesOf(routes ?? [])))
        .catch(() => {})
  }

  /** The queues a message is routed to; null when the management API cannot tell. */
  private routesOf(m: TraceOutbox): Promise<Route[] | null> {
    return this.routesFor(m.exchange ?? '', m.routingKey ?? '')
  }

  /** The routes of an exchange and routing key, read once per run. */
  private routesFor(exchange: string, routingKey: string): Promise<Route[] | null> {
    const key = `${exchange}\u0000${routingKey}`
    let routes = this.routes.get(key)
    if (!routes) {
      routes = this.resolveRoutes(exchange, routingKey, new Set())
      this.routes.set(key, routes)
    }
    return routes
  }

  private async resolveRoutes(exchange: string, routingKey: string, seen: Set<string>): Promise<Route[] | null> {
    if (!this.ports.management || this.managementDown) return null
    if (exchange === '') return this.queueRoute(routingKey).then((r) => (r ? [r] : []))
    if (seen.has(exchange)) return []
    seen.add(exchange)
    const v = encodeURIComponent(this.options.vhost)
    const e = encodeURIComponent(exchange)
    try {
      const [info, bindings] = await Promise.all([
        this.ports.management.get<{type?: string}>(`/exchanges/${v}/${e}`),
        this.ports.management.get<{destination: string; destination_type: string; routing_key: string}[]>(`/exchanges/${v}/${e}/bindings/source`),
      ])
      const type = info.type ?? 'direct'
      if (type === 'headers') this.notes.add(`exchange ${exchange} is a headers exchange: its bindings are not matched, the queues are unknown`)
      const matched = bindings.filter((b) => bindingMatches(type, b.routing_key, routingKey))
      const out: Route[] = []
      for (const b of matched) {
        if (b.destination_type === 'exchange') out.push(...((await this.resolveRoutes(b.destination, routingKey, seen)) ?? []))
        else {
          const route = await this.queueRoute(b.destination)
          if (route) out.push(route)
        }
      }
      return [...new Map(out.map((r) => [r.queue, r])).values()]
    } catch (error) {
      if (/HTTP 404/.test((error as Error).message)) {
        this.notes.add(`exchange ${exchange} does not exist on the broker`)
        return []
      }
      this.managementDown = oneLine((error as Error).message)
      return null
    }
  }

  private async queueRoute(queue: string): Promise<Route | null> {
    const info = await this.queueInfo(queue)
    return info ? {queue, ...info} : null
  }

  private queueInfo(queue: string): Promise<{figures: QueueFigures; dlx: Route['dlx']} | null> {
    let info = this.queues.get(queue)
    if (!info) {
      info = this.fetchQueue(queue)
      this.queues.set(queue, info)
    }
    return info
  }

  private async fetchQueue(queue: string): Promise<{figures: QueueFigures; dlx: Route['dlx']} | null> {
    type QueueInfo = {messages?: number; consumers?: number; arguments?: Record<string, unknown>; effective_policy_definition?: Record<string, unknown>}
    try {
      const q = await this.ports.management!.get<QueueInfo>(`/queues/${encodeURIComponent(this.options.vhost)}/${encodeURIComponent(queue)}`)
      const args = q.arguments ?? {}
      const policy = q.effective_policy_definition ?? {}
      const exchange = (args['x-dead-letter-exchange'] ?? policy['dead-letter-exchange']) as string | undefined
      const routingKey = (args['x-dead-letter-routing-key'] ?? policy['dead-letter-routing-key']) as string | undefined
      return {
        figures: {queue, messages: Number(q.messages ?? 0), consumers: Number(q.consumers ?? 0)},
        dlx: typeof exchange === 'string' ? {exchange, routingKey: typeof routingKey === 'string' ? routingKey : null} : null,
      }
    } catch (error) {
      if (/HTTP 404/.test((error as Error).message)) return null
      this.managementDown = oneLine((error as Error).message)
      return null
    }
  }

  /** The queues the destination queues dead-letter to, through their DLX (argument or policy). */
  private async deadLetterQueuesOf(routes: Route[]): Promise<string[]> {
    const out: string[] = []
    for (const route of routes) {
      if (!route.dlx) continue
      const dead = await this.routesFor(route.dlx.exchange, route.dlx.routingKey ?? '')
      // A DLX without its own routing key keeps the message's: the queues bound for any key are candidates.
      for (const r of dead ?? []) out.push(r.queue)
    }
    return [...new Set(out)]
  }

  private scan(queue: string): Promise<Scan> {
    let scan = this.scans.get(queue)
    if (!scan) {
      scan = this.read(queue)
      this.scans.set(queue, scan)
    }
    return scan
  }

  /** Holds every message read and closes the channel: all go back to the queue in their order (marked redelivered). */
  private async read(queue: string): Promise<Scan> {
    const letters = new Map<string, DeadLetterFound>()
    let queues: DeadLetterQueues
    try {
      queues = await this.ports.deadLetters()
      const state = await queues.state(queue)
      if (state.consumers > 0) return {read: 0, depth: state.messages, letters, why: `it has ${state.consumers} consumer${state.consumers === 1 ? '' : 's'} (reading it would hide messages from them)`}
      const total = Math.min(state.messages, this.options.limit)
      let read = 0
      if (total > 0) {
        const reader = await queues.open(queue, {prefetch: Math.min(this.options.prefetch ?? 200, total)})
        try {
          while (read < total) {
            const letter = await reader.next(this.options.idleMs)
            if (!letter) break
            read++
            reader.hold(letter)
            const facts = describeLetter(letter, this.options.errorHeaders)
            if (facts.messageId !== undefined && !letters.has(facts.messageId))
              letters.set(facts.messageId, {
                messageId: facts.messageId, queue, reason: facts.reason, from: facts.queue || '(unknown queue)', at: facts.diedAt?.toISOString() ?? null,
                deaths: facts.deaths, error: facts.error ?? null,
              })
          }
        } finally {
          await reader.close()
        }
      }
      return {read, depth: state.messages, letters}
    } catch (error) {
      return {read: 0, depth: 0, letters, why: oneLine((error as Error).message)}
    }
  }
}

/**
 * Whether a binding routes a message, as RabbitMQ decides it.
 *
 * | exchange type | matches when                                                      |
 * | ------------- | ----------------------------------------------------------------- |
 * | fanout        | always                                                            |
 * | direct        | the binding key equals the routing key                            |
 * | topic         | the key's words match the pattern (* one word, # zero or more)    |
 * | headers, other| never (not matched: said in a note)                               |
 */
export function bindingMatches(type: string, bindingKey: string, routingKey: string): boolean {
  if (type === 'fanout') return true
  if (type === 'direct' || type === 'x-delayed-message') return bindingKey === routingKey
  if (type === 'topic') return topicMatches(bindingKey.split('.'), 0, routingKey === '' ? [] : routingKey.split('.'), 0)
  return false
}

function topicMatches(pattern: string[], p: number, words: string[], w: number): boolean {
  if (p === pattern.length) return w === words.length
  if (pattern[p] === '#') {
    for (let k = w; k <= words.length; k++) if (topicMatches(pattern, p + 1, words, k)) return true
    return false
  }
  if (w === words.length) return false
  return (pattern[p] === '*' || pattern[p] === words[w]) && topicMatches(pattern, p + 1, words, w + 1)
}
