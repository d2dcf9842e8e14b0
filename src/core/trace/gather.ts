import type {Config} from '../../config/schema.js'
import {type AuditTouch, auditTouching, auditUnrecorded} from '../audit.js'
import {INTEGER_TYPES, tableColumns} from '../introspect.js'
import {type InboxMapping, inboxMapping, mapChecked, type OrdersMapping, ordersMapping, type OutboxMapping, outboxMapping} from '../mapping.js'
import {statusName} from '../outbox/table.js'
import type {Row, SqlExecutor} from '../ports.js'
import {cacheDrift} from '../reconcile/cache.js'
import {cacheKeys} from '../reconcile/key-pattern.js'
import type {CacheRead} from '../reconcile/ports.js'
import {checkTables, mappedTableNames, requireTable} from '../tables.js'
import type {IdKind, InboxState, OutboxState, TraceAudit, TraceCache, TraceInbox, TraceOrder, TraceOutbox} from './model.js'

/** The tables trace reads: the outbox always; the inbox and orders when they exist (else what they tell is unknown). */
export interface TraceSchema {
  outbox: OutboxMapping
  inbox: InboxMapping | null
  orders: OrdersMapping | null
  auditTable: string
  /** Id columns of an integer type: an id that is not an integer cannot be one of theirs (and MySQL would cast 'x' to 0). */
  integerIds: {outbox: boolean; orders: boolean; inbox: boolean}
  /** Orders can be linked to outbox rows. */
  linkable: boolean
}

/** The one resolved mapping (core/mapping.ts) of the three tables and the types of their id columns, from one information_schema read. */
export async function loadTraceSchema(sql: SqlExecutor, config: Config): Promise<TraceSchema> {
  const types = await tableColumns(sql, mappedTableNames(config))
  const {outbox, checks} = mapChecked(config, ['outbox'], checkTables(config, types))
  const inbox = checks.inbox.exists ? inboxMapping(config, requireTable(checks.inbox)) : null
  const orders = checks.orders.exists ? ordersMapping(config, requireTable(checks.orders)) : null
  const integer = (table: string | undefined, column: string | undefined) =>
    table !== undefined && types.some((r) => r.table.toLowerCase() === table.toLowerCase() && r.column.toLowerCase() === column?.toLowerCase() && INTEGER_TYPES.has(r.dataType.toLowerCase()))
  return {
    outbox, inbox, orders, auditTable: config.audit.table,
    integerIds: {outbox: integer(outbox.name, outbox.names.id), orders: integer(orders?.name, orders?.names.id), inbox: integer(inbox?.name, inbox?.names.messageId)},
    linkable: (orders?.c.messageId ?? null) !== null || outbox.c.aggregateId !== null,
  }
}

export type KindHint = 'auto' | 'order' | 'message'

/** Everything the database and Redis say about one id (the broker's part is added by broker.ts). */
export interface Gathered {
  id: string
  kind: IdKind
  order: TraceOrder | null
  orderMissing: boolean
  outbox: TraceOutbox[]
  inbox: TraceInbox[] | null
  audit: TraceAudit[]
  cache: TraceCache
  notes: string[]
}

export interface GatherPorts {
  sql: SqlExecutor
  /** Null when Redis could not be reached: the cache is unknown (the reason given). */
  cache: {read(keys: string[]): Promise<CacheRead[]>} | {unavailable: string}
}

type Kind = 'text' | 'time' | 'int'
const ORDER_COLUMNS: Record<string, Kind> = {id: 'text', status: 'text', messageId: 'text', createdAt: 'time', updatedAt: 'time'}
const OUTBOX_COLUMNS: Record<string, Kind> = {
  id: 'text', status: 'text', aggregateId: 'text', eventType: 'text', exchange: 'text', routingKey: 'text', attempts: 'int', lastError: 'text',
  createdAt: 'time', availableAt: 'time', sentAt: 'time',
}
const INBOX_COLUMNS: Record<string, Kind> = {messageId: 'text', consumer: 'text', status: 'text', attempts: 'int', lastError: 'text', receivedAt: 'time', processedAt: 'time'}

/** The select list of a table under fixed aliases (times as UNIX_TIMESTAMP, server side), and the columns it lacks; `alias.` before each column in a join. */
function selectList(table: {c: object}, columns: Record<string, Kind>, alias?: string): {list: string; unknown: string[]} {
  const c = table.c as Record<string, string | null>
  const unknown: string[] = []
  const parts = Object.entries(columns).map(([logical, kind]) => {
    const name = c[logical]
    if (name === null || name === undefined) {
      unknown.push(logical)
      return `NULL AS \`${logical}\``
    }
    const col = alias ? `${alias}.${name}` : name
    return kind === 'time' ? `UNIX_TIMESTAMP(${col}) AS \`${logical}\`` : `${col} AS \`${logical}\``
  })
  // The server's clock, for ages that no client or session time zone can distort.
  parts.push('UNIX_TIMESTAMP(NOW(3)) AS `_now`')
  return {list: parts.join(', '), unknown}
}

/** The single-table lookups, each an index lookup with the ids as one `IN (?)` parameter (round 2 and the later lookups); EXPLAINed by the tests. */
export function traceStatements(schema: TraceSchema) {
  const o = selectList(schema.outbox, OUTBOX_COLUMNS)
  const r = schema.orders ? selectList(schema.orders, ORDER_COLUMNS) : null
  const i = schema.inbox ? selectList(schema.inbox, INBOX_COLUMNS) : null
  const out = {
    outboxById: {sql: `SELECT ${o.list} FROM ${schema.outbox.t} WHERE ${schema.outbox.c.id} IN (?)`, unknown: o.unknown},
    outboxByAggregate: schema.outbox.c.aggregateId ? {sql: `SELECT ${o.list} FROM ${schema.outbox.t} WHERE ${schema.outbox.c.aggregateId} IN (?)`, unknown: o.unknown} : null,
    ordersById: r && schema.orders ? {sql: `SELECT ${r.list} FROM ${schema.orders.t} WHERE ${schema.orders.c.id} IN (?)`, unknown: r.unknown} : null,
    ordersByMessage: r && schema.orders?.c.messageId ? {sql: `SELECT ${r.list} FROM ${schema.orders.t} WHERE ${schema.orders.c.messageId} IN (?)`, unknown: r.unknown} : null,
    inboxByMessage: i && schema.inbox ? {sql: `SELECT ${i.list} FROM ${schema.inbox.t} WHERE ${schema.inbox.c.messageId} IN (?)`, unknown: i.unknown} : null,
  }
  return out
}

type Statements = ReturnType<typeof traceStatements>

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v)
}

function iso(seconds: unknown): string | null {
  if (seconds === null || seconds === undefined) return null
  const ms = Math.round(Number(seconds) * 1000)
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null
}

function age(now: unknown, seconds: unknown): number | null {
  if (seconds === null || seconds === undefined) return null
  return Math.max(0, Math.round((Number(now) - Number(seconds)) * 1000))
}

function int(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v)
}

function toOrder(row: Row, unknown: string[]): TraceOrder {
  return {
    id: text(row.id)!, status: text(row.status), messageId: text(row.messageId), createdAt: iso(row.createdAt), updatedAt: iso(row.updatedAt),
    ageMs: age(row._now, row.updatedAt ?? row.createdAt), unknown,
  }
}

function toOutbox(row: Row, schema: TraceSchema, unknown: string[]): TraceOutbox {
  const name = statusName(schema.outbox, row.status)
  const state: OutboxState = name === 'pending' || name === 'sent' || name === 'dead-letter' ? name : 'other'
  return {
    id: text(row.id)!, state, status: text(row.status) ?? 'NULL', aggregateId: text(row.aggregateId), eventType: text(row.eventType),
    exchange: text(row.exchange) ?? schema.outbox.exchange, routingKey: text(row.routingKey) ?? schema.outbox.routingKey,
    attempts: int(row.attempts), lastError: text(row.lastError),
    createdAt: iso(row.createdAt), availableAt: iso(row.availableAt), sentAt: iso(row.sentAt),
    ageMs: age(row._now, row.createdAt), sentAgeMs: age(row._now, row.sentAt), unknown,
  }
}

function toInbox(row: Row, inbox: InboxMapping, unknown: string[]): TraceInbox {
  const status = text(row.status) ?? 'NULL'
  const s = inbox.statuses
  const state: InboxState = status === String(s.processed) ? 'processed' : status === String(s.failed) ? 'failed' : s.received !== null && status === String(s.received) ? 'received' : 'other'
  return {
    messageId: text(row.messageId)!, consumer: text(row.consumer), state, status, attempts: int(row.attempts), lastError: text(row.lastError),
    receivedAt: iso(row.receivedAt), processedAt: iso(row.processedAt), ageMs: age(row._now, row.receivedAt), unknown,
  }
}

const INTEGER = /^-?\d{1,20}$/

/** The ids a lookup on this column can match (none that an integer column cannot hold), each once. */
function idList(values: Iterable<string>, integer: boolean): string[] {
  return [...new Set(values)].filter((v) => !integer || INTEGER.test(v))
}

/** The statement and ids of a lookup for these values: null when there is nothing to ask. */
function lookupArgs(statement: {sql: string} | null, values: Iterable<string>, integer: boolean): {sql: string; list: string[]} | null {
  if (!statement) return null
  const list = idList(values, integer)
  return list.length === 0 ? null : {sql: statement.sql, list}
}

async function runLookup(sql: SqlExecutor, args: {sql: string; list: string[]} | null): Promise<Row[]> {
  return args ? sql.query(args.sql, [args.list]) : []
}

/** Runs a lookup for these values (none: no round trip). */
async function lookup(sql: SqlExecutor, statement: {sql: string} | null, values: Iterable<string>, integer: boolean): Promise<Row[]> {
  return runLookup(sql, lookupArgs(statement, values, integer))
}

interface Statement {
  sql: string
  params: unknown[]
}

/** A lookup of one UNION ALL, tagged `_b`; left out when it has no ids. */
type Branch = {select: string; list: string[]} | null

function unionOf(branches: Branch[]): Statement | null {
  const sent = branches.filter((b): b is NonNullable<Branch> => b !== null && b.list.length > 0)
  if (sent.length === 0) return null
  return {sql: sent.map((b) => `(${b.select})`).join(' UNION ALL '), params: sent.map((b) => b.list)}
}

/**
 * Round 1 of a batch, two statements side by side: the ids as orders with the orders naming them as messages, and
 * the ids as messages with the outbox rows naming them as aggregates, each an index lookup per branch of a UNION ALL
 * (one round trip per table instead of one per lookup; EXPLAINed by the tests).
 */
export function firstStatements(schema: TraceSchema, ids: string[], hint: KindHint): {orders: Statement | null; outbox: Statement | null} {
  const {outbox: x, orders: r} = schema
  const any = [...new Set(ids)]
  const o = selectList(x, OUTBOX_COLUMNS)
  const rl = r ? selectList(r, ORDER_COLUMNS) : null
  const orders = r && rl ? unionOf([
    hint === 'message' ? null : {select: `SELECT ${rl.list}, 'i' AS _b FROM ${r.t} WHERE ${r.c.id} IN (?)`, list: idList(ids, schema.integerIds.orders)},
    hint === 'order' || !r.c.messageId ? null : {select: `SELECT ${rl.list}, 'm' AS _b FROM ${r.t} WHERE ${r.c.messageId} IN (?)`, list: any},
  ]) : null
  const outbox = unionOf([
    hint === 'order' ? null : {select: `SELECT ${o.list}, 'i' AS _b FROM ${x.t} WHERE ${x.c.id} IN (?)`, list: idList(ids, schema.integerIds.outbox)},
    hint === 'message' || !x.c.aggregateId ? null : {select: `SELECT ${o.list}, 'a' AS _b FROM ${x.t} WHERE ${x.c.aggregateId} IN (?)`, list: any},
  ])
  return {orders, outbox}
}

/** A statement of round 1 failed: the mapping as configured may not be the table's (run.ts reads information_schema and tries again). */
export class FirstRoundError extends Error {
  constructor(readonly cause: unknown) {
    super((cause as Error).message)
  }
}

/** The mapping as configured, before information_schema has said which tables and columns exist and which ids are integers. */
export function configuredSchema(config: Config): TraceSchema {
  const outbox = outboxMapping(config, config.outbox.columns)
  const orders = ordersMapping(config, config.orders.columns)
  return {
    outbox, inbox: inboxMapping(config, config.inbox.columns), orders, auditTable: config.audit.table,
    integerIds: {outbox: false, orders: false, inbox: false},
    linkable: orders.c.messageId !== null || outbox.c.aggregateId !== null,
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const item of items) {
    const k = key(item)
    const list = out.get(k)
    if (list) list.push(item)
    else out.set(k, [item])
  }
  return out
}

/**
 * One batch of ids in at most three rounds of batched lookups, whatever the batch's size: the ids as orders and as
 * messages (firstStatements; Redis read beside it for the ids as orders, whose keys are known before their rows); then
 * the other side of each that round 1 left open (outbox rows of the orders, orders of the messages); then their inbox
 * records, audit records and any cache key not read yet, side by side (with the broker's reads, started by onOutbox).
 */
export async function gatherBatch(
  ports: GatherPorts,
  schema: TraceSchema,
  ids: string[],
  hint: KindHint,
  cachePattern: string,
  /** Told every outbox row found, once the rows are known and before the last round (the broker reads start then). */
  onOutbox?: (rows: TraceOutbox[]) => void,
): Promise<Gathered[]> {
  const st = traceStatements(schema)
  const {sql} = ports
  const first = firstStatements(schema, ids, hint)
  const send = (s: Statement | null) =>
    (s ? sql.query(s.sql, s.params) : Promise.resolve([])).catch((error: unknown) => {
      throw new FirstRoundError(error)
    })
  const cacheFirst = hint === 'message' || !schema.orders?.c.status || 'unavailable' in ports.cache ? null : readKeys(ports.cache, cachePattern, ids)
  cacheFirst?.catch(() => {})
  let orderRows: Row[]
  let outboxRows: Row[]
  try {
    ;[orderRows, outboxRows] = await Promise.all([send(first.orders), send(first.outbox)])
  } catch (error) {
    await cacheFirst?.catch(() => {})
    throw error
  }
  const orders = new Map<string, TraceOrder>()
  const namingRows: Row[] = []
  for (const row of orderRows) (row._b === 'i' ? orders.set(text(row.id)!, toOrder(row, st.ordersById!.unknown)) : namingRows.push(row))
  const messages = new Map<string, TraceOutbox>()
  const aggregateRows: Row[] = []
  for (const row of outboxRows) (row._b === 'i' ? messages.set(text(row.id)!, toOutbox(row, schema, st.outboxById.unknown)) : aggregateRows.push(row))
  // An id that is both an order and a message is taken as the order (said in a note; --message says otherwise).
  const asOrder = new Set(ids.filter((id) => orders.has(id)))
  const asMessage = new Set(ids.filter((id) => !asOrder.has(id) && messages.has(id)))
  const add = (rows: Row[]) => {
    for (const row of rows) {
      const m = toOutbox(row, schema, st.outboxById.unknown)
      if (!messages.has(m.id)) messages.set(m.id, m)
    }
  }
  add(aggregateRows.filter((row) => asOrder.has(text(row.aggregateId)!)))
  const orderByMessage = new Map<string, TraceOrder>()
  for (const row of namingRows) {
    const order = toOrder(row, st.ordersById!.unknown)
    if (order.messageId === null || !asMessage.has(order.messageId)) continue
    orderByMessage.set(order.messageId, order)
    if (!orders.has(order.id)) orders.set(order.id, order)
  }

  // Round 2, only for what round 1 left open: an order's message row that names no such aggregate, a message's order by its aggregate id.
  const orderMessageIds = [...asOrder].map((id) => orders.get(id)!.messageId).filter((m): m is string => m !== null && !messages.has(m))
  const messageOrderIds = [...asMessage].map((id) => messages.get(id)!.aggregateId).filter((a): a is string => a !== null && !orders.has(a))
  const [linkedByMessage, ordersOfMessages] = await Promise.all([
    lookup(sql, st.outboxById, orderMessageIds, schema.integerIds.outbox),
    lookup(sql, st.ordersById, messageOrderIds, schema.integerIds.orders),
  ])
  add(linkedByMessage)
  for (const row of ordersOfMessages) orders.set(text(row.id)!, toOrder(row, st.ordersById!.unknown))
  const byAggregate = groupBy([...messages.values()].filter((m) => m.aggregateId !== null && asOrder.has(m.aggregateId)), (m) => m.aggregateId!)

  const plan = ids.map((id) => {
    if (asOrder.has(id)) {
      const order = orders.get(id)!
      const rows = new Map<string, TraceOutbox>()
      if (order.messageId !== null && messages.has(order.messageId)) rows.set(order.messageId, messages.get(order.messageId)!)
      for (const m of byAggregate.get(id) ?? []) rows.set(m.id, m)
      return {id, order, outbox: [...rows.values()].sort(byCreated)}
    }
    if (messages.has(id)) {
      const m = messages.get(id)!
      const order = (m.aggregateId !== null ? orders.get(m.aggregateId) : undefined) ?? orderByMessage.get(id) ?? null
      return {id, order, outbox: [m]}
    }
    return {id, order: null as TraceOrder | null, outbox: [] as TraceOutbox[]}
  })

  onOutbox?.(plan.flatMap((p) => p.outbox))

  // Round 3: inbox records (also for ids found nowhere else: a consumed message with no outbox row), audit, cache.
  const inboxIds = plan.flatMap((p) => (p.outbox.length > 0 ? p.outbox.map((m) => m.id) : p.order || hint === 'order' ? [] : [p.id]))
  const auditIds = plan.flatMap((p) => [...(p.order ? [p.order.id] : []), ...p.outbox.map((m) => m.id), ...(p.order || p.outbox.length > 0 ? [] : [p.id])])
  const cacheOrders = plan.flatMap((p) => (p.order ? [p.order] : []))
  const earliest = plan.flatMap((p) => [p.order?.createdAt, ...p.outbox.map((m) => m.createdAt)]).filter((t): t is string => !!t).sort()[0]
  const [inboxRows, touches, unrecorded, cache] = await Promise.all([
    lookup(sql, st.inboxByMessage, inboxIds, schema.integerIds.inbox),
    auditTouching(sql, schema.auditTable, [...new Set(auditIds)]),
    auditUnrecorded(sql, schema.auditTable, earliest ? Date.parse(earliest) / 1000 : null, 5),
    (cacheFirst ?? Promise.resolve(new Map<string, CacheRead>())).then((cached) => readCache(ports.cache, schema, cacheOrders, cachePattern, cached)),
  ])
  const inbox = groupBy(schema.inbox ? inboxRows.map((row) => toInbox(row, schema.inbox!, st.inboxByMessage!.unknown)) : [], (r) => r.messageId)
  const touchesOf = groupBy(touches, (t) => t.itemId)

  return plan.map(({id, order, outbox}) => {
    const records = schema.inbox ? (outbox.length > 0 ? outbox : [{id}]).flatMap((m) => inbox.get(m.id) ?? []) : null
    const kind: IdKind = asOrder.has(id) ? 'order' : outbox.length > 0 || (records?.length ?? 0) > 0 ? 'message' : 'none'
    const notes: string[] = []
    if (kind === 'order' && messages.has(id) && hint === 'auto') notes.push(`${id} is also a message id: --message traces that message`)
    if (!schema.inbox) notes.push('no inbox table: whether a consumer got the message is unknown')
    if (!schema.orders) notes.push('no orders table: the order and its cache are unknown')
    else if (kind === 'message' && !order && !schema.linkable) notes.push('nothing links outbox rows to orders (map outbox.columns.aggregateId or orders.columns.messageId): the order is unknown')
    const about = new Set([...(order ? [order.id] : []), ...outbox.map((m) => m.id), ...(kind === 'none' ? [] : [id])])
    const since = [order?.createdAt, ...outbox.map((m) => m.createdAt)].filter((t): t is string => !!t).sort()[0]
    const audit = [
      ...[...about].flatMap((a) => (touchesOf.get(a) ?? []).map((t) => auditOf(t, true))),
      ...unrecorded.filter((t) => !since || t.record.at >= since).map((t) => auditOf(t, false)),
    ].sort((a, b) => Number(a.auditId) - Number(b.auditId))
    const orderMissing = kind === 'message' && order === null && schema.orders !== null && outbox.some((m) => m.aggregateId !== null || schema.orders!.c.messageId !== null)
    return {id, kind, order, orderMissing, outbox, inbox: records, audit, cache: order ? cache.get(order.id)! : {state: 'unknown', key: null, value: null, expected: null, reason: 'no order'}, notes}
  })
}

function byCreated(a: TraceOutbox, b: TraceOutbox): number {
  if (a.createdAt !== b.createdAt) return (a.createdAt ?? '\uffff') < (b.createdAt ?? '\uffff') ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

function auditOf(t: AuditTouch, recorded: boolean): TraceAudit {
  const r = t.record
  return {auditId: r.id, at: r.at, command: r.command, action: t.action, about: t.itemId, exitCode: r.exitCode, osUser: r.osUser, host: r.host, recorded}
}

/** The cache keys of these ids, read in one round trip, by key. */
async function readKeys(port: {read(keys: string[]): Promise<CacheRead[]>}, pattern: string, ids: string[]): Promise<Map<string, CacheRead>> {
  const keyOf = cacheKeys(pattern)
  const keys = [...new Set(ids.map(keyOf))]
  const reads = await port.read(keys)
  return new Map(keys.map((k, n) => [k, reads[n]]))
}

/** The cache key of each order against its status, read in one round trip unless read already (cacheDrift decides, as reconcile does). */
async function readCache(port: GatherPorts['cache'], schema: TraceSchema, orders: TraceOrder[], pattern: string, cached: Map<string, CacheRead>): Promise<Map<string, TraceCache>> {
  const out = new Map<string, TraceCache>()
  if (orders.length === 0) return out
  const keyOf = cacheKeys(pattern)
  const unknown = (reason: string) => {
    for (const o of orders) out.set(o.id, {state: 'unknown', key: keyOf(o.id), value: null, expected: o.status, reason})
    return out
  }
  if (!schema.orders?.c.status) return unknown('the orders table has no status column to compare with')
  if ('unavailable' in port) return unknown(port.unavailable)
  const unique = [...new Map(orders.map((o) => [o.id, o])).values()]
  const unread = unique.filter((o) => !cached.has(keyOf(o.id)))
  const reads = unread.length > 0 ? await readKeys(port, pattern, unread.map((o) => o.id)) : cached
  for (const o of unique) {
    const read = cached.get(keyOf(o.id)) ?? reads.get(keyOf(o.id))!
    const drift = cacheDrift(o.status, read)
    const value = read.state === 'value' ? read.value : null
    const base = {key: keyOf(o.id), value, expected: o.status}
    if (drift === null) out.set(o.id, {state: 'equal', ...base})
    else if (read.state === 'missing') out.set(o.id, {state: 'missing', ...base})
    else if (read.state === 'invalid') out.set(o.id, {state: 'unreadable', ...base, reason: read.reason})
    else out.set(o.id, {state: 'different', ...base})
  }
  return out
}

export type {Statements}
