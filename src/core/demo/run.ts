import type {Config} from '../../config/schema.js'
import {UsageError} from '../errors.js'
import type {OutgoingMessage, ProgressCallback, PublisherPort, SqlExecutor, SqlPort} from '../ports.js'
import type {DeadLetterQueues} from '../dlq/ports.js'
import {qid} from '../sql.js'
import {type FaultKind, MAX_FAULT_RATE, planFaults} from './faults.js'
import {DEMO_PREFIX, type QueueReset, removeDemoMessages} from './reset.js'

export interface DemoDelivery {
  messageId?: string
  body: Buffer
  redelivered: boolean
}

/** ack: done with it; reject: dead-letter it (reject without requeue). */
export type DeliveryVerdict = 'ack' | 'reject'

export interface DemoConsumer {
  /** Deliveries handed to the handler and not yet acked or rejected. */
  inFlight(): number
  /** Time of the last delivery (ms since epoch), 0 when none came. */
  lastDeliveryAt(): number
  stop(): Promise<void>
}

export interface DemoBroker {
  consume(queue: string, prefetch: number, handler: (delivery: DemoDelivery) => Promise<DeliveryVerdict>): Promise<DemoConsumer>
  queueDepth(queue: string): Promise<number>
}

export interface DemoCache {
  /** Writes an order's status in the configured format (string, hash field or JSON field). */
  writeStatus(orderId: string, status: string): Promise<void>
  deleteOrders(pattern: string): Promise<number>
}

export interface DemoPorts {
  sql: SqlPort
  broker: DemoBroker
  /** Read with hold-and-return, so that --reset takes out only the demo's messages. */
  queues: DeadLetterQueues
  publisher: PublisherPort
  cache: DemoCache
  /** Creates the reference schema and the topology of examples/topology.yaml. */
  prepare(): Promise<void>
  /** The relay: publishes pending outbox rows with the same code as `outbox drain`; returns how many were published. */
  relay(): Promise<number>
  signal?: AbortSignal
}

export interface DemoTopology {
  exchange: string
  routingKey: string
  queue: string
  deadLetterQueue: string
}

export interface DemoOptions {
  config: Config
  topology: DemoTopology
  orders: number
  faultRate: number
  seed: number
  reset: boolean
  /** Run only the consumer, without faults, until the queue is idle: what on-call does after fixing things. */
  consumeOnly?: boolean
  prefetch?: number
  /** How long the queue must stay quiet to count as idle. */
  idleMs?: number
  /** The demo's hour is moved this far into the past, so that reconcile's grace period does not hide it. */
  ageMs?: number
  consumer?: string
}

export interface DemoReport {
  orders: number
  seed: number
  faultRate: number
  published: number
  consumed: number
  /** Named after the reconcile check that finds each fault, plus what the inbox discarded and what was dead-lettered. */
  injected: {
    message_stuck: number
    order_without_message: number
    sent_not_consumed: number
    consumed_failed: number
    cache_drift: number
    duplicates_discarded: number
    dead_lettered: number
  }
  /** The same by fault, as injected. */
  faults: Record<FaultKind, number>
  /** With --reset: the earlier demo's messages taken out of each queue, and the others left there. */
  reset?: QueueReset[]
  seconds: number
}

const ORDER_STATUS = {created: 'created', confirmed: 'confirmed', wrong: 'cancelled'}

export function orderId(seed: number, index: number): string {
  return `${DEMO_PREFIX}${seed}-${String(index).padStart(7, '0')}`
}

export function messageIdOf(order: string): string {
  return `${DEMO_PREFIX}m-${order.slice(DEMO_PREFIX.length)}`
}

function indexOf(order: string): number {
  return Number(order.slice(order.lastIndexOf('-') + 1))
}

/**
 * Runs the order system of DESIGN.md on the configured services and breaks it on purpose:
 * an order service (order + outbox row in one transaction), the relay (outbox drain), and a consumer with
 * an inbox (duplicates discarded) that writes the order's status to Redis after its commit.
 */
export async function runDemo(ports: DemoPorts, options: DemoOptions, onProgress?: ProgressCallback): Promise<DemoReport> {
  const started = Date.now()
  if (!Number.isInteger(options.orders) || options.orders < 1 || options.orders > 10_000_000)
    throw new UsageError(`--orders ${options.orders} is out of range`, 'use a whole number from 1 to 10000000')
  if (!(options.faultRate >= 0 && options.faultRate <= MAX_FAULT_RATE))
    throw new UsageError(`--fault-rate ${options.faultRate} is out of range`, `use a number from 0 to ${MAX_FAULT_RATE.toFixed(3)} (seven kinds of fault, at most one per order)`)
  const {config} = options
  const t = tables(config)
  const plan = options.consumeOnly ? [] : planFaults(options.orders, options.faultRate, options.seed)
  const faults = Object.fromEntries(
    ['crash_before_publish', 'order_without_message', 'message_lost', 'poison_message', 'consumer_failure', 'cache_drift', 'duplicate_delivery'].map((k) => [k, 0]),
  ) as Record<FaultKind, number>
  for (const fault of plan) if (fault) faults[fault]++
  const counters = {consumed: 0, duplicates: 0, rejected: 0}
  let queuesReset: QueueReset[] | undefined

  if (!options.consumeOnly) {
    await ports.prepare()
    if (options.reset) queuesReset = await reset(ports, options)
    else {
      const existing = await ports.sql.query(`SELECT 1 FROM ${t.orders} WHERE ${t.o.id} LIKE ? LIMIT 1`, [`${DEMO_PREFIX}%`])
      if (existing.length > 0) throw new UsageError('orders of an earlier demo run are still there', 'pass --reset to remove them (demo rows, cache keys and queued messages) first')
    }
  }

  const consumer = await ports.broker.consume(options.topology.queue, options.prefetch ?? 50, (delivery) =>
    handleDelivery(ports, options, plan, counters, delivery),
  )
  let published = 0
  try {
    if (!options.consumeOnly) {
      // Crashed orders are committed after the relay's last pass: their process died before it could publish.
      const later: number[] = []
      await writeOrders(ports, options, plan, (i) => plan[i] !== 'crash_before_publish', onProgress)
      for (let i = 0; i < plan.length; i++) if (plan[i] === 'crash_before_publish') later.push(i)
      published = await ports.relay()
      await publishDuplicates(ports, options, plan)
      await writeOrders(ports, options, plan, (i) => plan[i] === 'crash_before_publish')
    }
    await waitIdle(ports, options, consumer)
  } finally {
    await consumer.stop()
  }
  if (!options.consumeOnly) await age(ports.sql, config, options.ageMs ?? 3_600_000)

  return {
    orders: options.consumeOnly ? 0 : options.orders,
    seed: options.seed,
    faultRate: options.faultRate,
    published,
    consumed: counters.consumed,
    injected: {
      message_stuck: faults.crash_before_publish,
      order_without_message: faults.order_without_message,
      sent_not_consumed: faults.message_lost + faults.poison_message,
      consumed_failed: faults.consumer_failure,
      cache_drift: faults.cache_drift,
      duplicates_discarded: counters.duplicates,
      dead_lettered: counters.rejected,
    },
    faults,
    ...(queuesReset ? {reset: queuesReset} : {}),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  }
}

function tables(config: Config) {
  const o = config.orders.columns
  const m = config.outbox.columns
  const i = config.inbox.columns
  const column = (name: string | null, what: string) => {
    if (name === null) throw new UsageError(`the demo needs the ${what} column, which is mapped to null`, 'run the demo on the reference schema (msgops schema init)')
    return qid(name)
  }
  return {
    orders: qid(config.orders.table),
    outbox: qid(config.outbox.table),
    inbox: qid(config.inbox.table),
    o: {id: qid(o.id), messageId: column(o.messageId, 'orders.messageId'), status: column(o.status, 'orders.status'), createdAt: column(o.createdAt, 'orders.createdAt')},
    m: {
      id: qid(m.id),
      aggregateType: column(m.aggregateType, 'outbox.aggregateType'),
      aggregateId: column(m.aggregateId, 'outbox.aggregateId'),
      eventType: column(m.eventType, 'outbox.eventType'),
      exchange: m.exchange === null ? null : qid(m.exchange),
      routingKey: m.routingKey === null ? null : qid(m.routingKey),
      payload: qid(m.payload),
      status: qid(m.status),
      createdAt: column(m.createdAt, 'outbox.createdAt'),
      sentAt: m.sentAt === null ? null : qid(m.sentAt),
    },
    i: {
      messageId: qid(i.messageId),
      consumer: i.consumer === null ? null : qid(i.consumer),
      aggregateId: i.aggregateId === null ? null : qid(i.aggregateId),
      status: qid(i.status),
      lastError: i.lastError === null ? null : qid(i.lastError),
      receivedAt: qid(i.receivedAt),
      processedAt: i.processedAt === null ? null : qid(i.processedAt),
    },
  }
}

/** Removes what an earlier demo wrote, and only that: rows, keys and messages whose ids start with "demo-". */
async function reset(ports: DemoPorts, options: DemoOptions): Promise<QueueReset[]> {
  const t = tables(options.config)
  const like = `${DEMO_PREFIX}%`
  await ports.sql.execute(`DELETE FROM ${t.inbox} WHERE ${t.i.messageId} LIKE ?`, [like])
  await ports.sql.execute(`DELETE FROM ${t.outbox} WHERE ${t.m.id} LIKE ?`, [like])
  await ports.sql.execute(`DELETE FROM ${t.orders} WHERE ${t.o.id} LIKE ?`, [like])
  const queues: QueueReset[] = []
  for (const queue of [options.topology.queue, options.topology.deadLetterQueue]) queues.push(await removeDemoMessages(ports.queues, queue, {signal: ports.signal}))
  await ports.cache.deleteOrders(options.config.cache.keyPattern.replace('{id}', `${DEMO_PREFIX}*`))
  return queues
}

/** The order service: each order and its outbox row in one transaction, then the cache write. */
async function writeOrders(ports: DemoPorts, options: DemoOptions, plan: (FaultKind | undefined)[], which: (i: number) => boolean, onProgress?: ProgressCallback): Promise<void> {
  const t = tables(options.config)
  const indexes = plan.map((_f, i) => i).filter(which)
  const total = indexes.length
  let done = 0
  let next = 0
  const worker = async () => {
    while (next < indexes.length) {
      if (ports.signal?.aborted) return
      const i = indexes[next++]
      const order = orderId(options.seed, i)
      const messageId = messageIdOf(order)
      const amount = ((i * 7919) % 50_000) / 100 + 1
      await ports.sql.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${t.orders} (${t.o.id}, ${t.o.messageId}, ${t.o.status}, amount) VALUES (?, ?, ?, ?)`, [order, messageId, ORDER_STATUS.created, amount])
        // The bug this fault stands for: the order was committed and its event forgotten.
        if (plan[i] !== 'order_without_message') await insertOutbox(tx, options, order, messageId, amount)
      })
      await ports.cache.writeStatus(order, ORDER_STATUS.created)
      done++
      if (done % 250 === 0 || done === total) onProgress?.({done, total, label: 'orders'})
    }
  }
  await Promise.all(Array.from({length: 8}, worker))
}

async function insertOutbox(tx: SqlExecutor, options: DemoOptions, order: string, messageId: string, amount: number): Promise<void> {
  const t = tables(options.config)
  const columns = [t.m.id, t.m.aggregateType, t.m.aggregateId, t.m.eventType, t.m.payload, t.m.status]
  const values: unknown[] = [messageId, 'order', order, 'order.created', JSON.stringify({orderId: order, amount, status: ORDER_STATUS.created}), options.config.outbox.statuses.pending]
  if (t.m.exchange) {
    columns.push(t.m.exchange)
    values.push(options.topology.exchange)
  }
  if (t.m.routingKey) {
    columns.push(t.m.routingKey)
    values.push(options.topology.routingKey)
  }
  await tx.execute(`INSERT INTO ${t.outbox} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, values)
}

/** A relay that published twice: the same message, with the same id, a second time. */
async function publishDuplicates(ports: DemoPorts, options: DemoOptions, plan: (FaultKind | undefined)[]): Promise<void> {
  const messages: OutgoingMessage[] = []
  plan.forEach((fault, i) => {
    if (fault !== 'duplicate_delivery') return
    const order = orderId(options.seed, i)
    const amount = ((i * 7919) % 50_000) / 100 + 1
    messages.push({
      exchange: options.topology.exchange,
      routingKey: options.topology.routingKey,
      body: Buffer.from(JSON.stringify({orderId: order, amount, status: ORDER_STATUS.created})),
      properties: {messageId: messageIdOf(order), contentType: 'application/json'},
    })
  })
  for (let i = 0; i < messages.length; i += 500) {
    const outcomes = await ports.publisher.publishBatch(messages.slice(i, i + 500))
    const failed = outcomes.filter((o) => o.status !== 'confirmed').length
    if (failed > 0) throw new UsageError(`${failed} duplicate messages were not routed`, 'check the demo topology (msgops topology plan examples/topology.yaml)')
  }
}

/**
 * The consumer: inbox row and business update in one transaction (a duplicate id is discarded),
 * then the cache write after the commit. Faults are injected only on the first run, never with consumeOnly.
 */
async function handleDelivery(
  ports: DemoPorts,
  options: DemoOptions,
  plan: (FaultKind | undefined)[],
  counters: {consumed: number; duplicates: number; rejected: number},
  delivery: DemoDelivery,
): Promise<DeliveryVerdict> {
  const t = tables(options.config)
  let payload: {orderId?: string}
  try {
    payload = JSON.parse(delivery.body.toString('utf8')) as {orderId?: string}
  } catch {
    counters.rejected++
    return 'reject'
  }
  const order = String(payload.orderId ?? '')
  const messageId = delivery.messageId ?? messageIdOf(order)
  const fault = order.startsWith(`${DEMO_PREFIX}${options.seed}-`) ? plan[indexOf(order)] : undefined
  if (fault === 'message_lost') return 'ack'
  if (fault === 'poison_message') {
    counters.rejected++
    return 'reject'
  }
  const statuses = options.config.inbox.statuses
  const failed = fault === 'consumer_failure'
  const columns = [t.i.messageId, t.i.status]
  const values: unknown[] = [messageId, failed ? statuses.failed : statuses.processed]
  if (t.i.consumer) columns.push(t.i.consumer), values.push(options.consumer ?? 'demo')
  if (t.i.aggregateId) columns.push(t.i.aggregateId), values.push(order)
  if (failed && t.i.lastError) columns.push(t.i.lastError), values.push('simulated handler failure: payment service timed out')
  if (!failed && t.i.processedAt) columns.push(t.i.processedAt), values.push(new Date())
  let duplicate = false
  await ports.sql.transaction(async (tx) => {
    const inserted = await tx.execute(`INSERT IGNORE INTO ${t.inbox} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`, values)
    if (inserted.affectedRows === 0) {
      duplicate = true
      return
    }
    if (!failed) await tx.execute(`UPDATE ${t.orders} SET ${t.o.status} = ? WHERE ${t.o.id} = ?`, [ORDER_STATUS.confirmed, order])
  })
  if (duplicate) {
    counters.duplicates++
    return 'ack'
  }
  counters.consumed++
  if (failed) return 'ack'
  if (fault === 'cache_drift') {
    // Half the cache faults are a skipped write (stale value), half a wrong one.
    if (indexOf(order) % 2 === 1) await ports.cache.writeStatus(order, ORDER_STATUS.wrong)
    return 'ack'
  }
  await ports.cache.writeStatus(order, ORDER_STATUS.confirmed)
  return 'ack'
}

async function waitIdle(ports: DemoPorts, options: DemoOptions, consumer: DemoConsumer): Promise<void> {
  const idleMs = options.idleMs ?? 1500
  for (;;) {
    if (ports.signal?.aborted) return
    await new Promise((resolve) => setTimeout(resolve, 200))
    const quiet = Date.now() - Math.max(consumer.lastDeliveryAt(), 0) >= idleMs
    if (quiet && consumer.inFlight() === 0 && (await ports.broker.queueDepth(options.topology.queue)) === 0) return
  }
}

/** Moves the demo's rows one hour back, as if the run had ended a while ago. */
async function age(sql: SqlPort, config: Config, ageMs: number): Promise<void> {
  const t = tables(config)
  const seconds = Math.round(ageMs / 1000)
  const like = `${DEMO_PREFIX}%`
  const shift = (column: string | null) => (column ? [`${column} = ${column} - INTERVAL ? SECOND`] : [])
  const orderCols = [...shift(t.o.createdAt)]
  const outboxCols = [...shift(t.m.createdAt), ...shift(t.m.sentAt)]
  const inboxCols = [...shift(t.i.receivedAt), ...shift(t.i.processedAt)]
  const updatedAt = config.orders.columns.updatedAt
  // ON UPDATE CURRENT_TIMESTAMP would otherwise stamp the shift itself as the latest change.
  const keepUpdated = updatedAt ? `, ${qid(updatedAt)} = ${qid(updatedAt)} - INTERVAL ${seconds} SECOND` : ''
  await sql.execute(`UPDATE ${t.orders} SET ${orderCols.join(', ')}${keepUpdated} WHERE ${t.o.id} LIKE ?`, [...orderCols.map(() => seconds), like])
  await sql.execute(`UPDATE ${t.outbox} SET ${outboxCols.join(', ')} WHERE ${t.m.id} LIKE ?`, [...outboxCols.map(() => seconds), like])
  await sql.execute(`UPDATE ${t.inbox} SET ${inboxCols.join(', ')} WHERE ${t.i.messageId} LIKE ?`, [...inboxCols.map(() => seconds), like])
}
