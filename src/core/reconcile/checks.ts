import type {Config} from '../../config/schema.js'
import {ConfigError} from '../errors.js'
import {type InboxMapping, type Mappings, type OrdersMapping, ordersMapping, type OutboxMapping, resolveMappings} from '../mapping.js'
import type {SqlExecutor, SqlPort} from '../ports.js'
import {requireTable, type TableCheck, type TableRole} from '../tables.js'
import {keyEnds, type KeyEnds} from './cut.js'
import type {KeyColumn, MergeColumns} from './merge.js'
import {endsWhere, type KeyRole, rangeWhere} from './ranges.js'
import {type Fragment, fragment, joinFragments, type ScanSpec} from './scan.js'
import {type Bounds, SQL_TIME_FORMAT} from './window.js'

export const CHECKS = [
  'order_without_message',
  'message_stuck',
  'message_dead',
  'sent_not_consumed',
  'consumed_failed',
  'orphan_consumed',
  'cache_drift',
] as const
export type CheckName = (typeof CHECKS)[number]

export const CHECK_DESCRIPTIONS: Record<CheckName, string> = {
  order_without_message: 'order with no outbox row',
  message_stuck: 'outbox row still pending past the grace period',
  message_dead: 'outbox dead-letter row',
  sent_not_consumed: 'outbox row sent past the grace period with no inbox record',
  consumed_failed: 'inbox record failed or not processed past the grace period',
  orphan_consumed: 'inbox record with no outbox row, or whose order does not exist',
  cache_drift: 'Redis key of an order missing or not equal to the order status',
}

/** Tables each check reads. */
const NEEDS: Record<CheckName, TableRole[]> = {
  order_without_message: ['orders', 'outbox'],
  message_stuck: ['outbox'],
  message_dead: ['outbox'],
  sent_not_consumed: ['outbox', 'inbox'],
  consumed_failed: ['inbox'],
  orphan_consumed: ['inbox', 'outbox'],
  cache_drift: ['orders'],
}

/** A column as SQL uses it (quoted) and as information_schema names it (raw). */
export interface Column {
  c: string
  name: string
}

/**
 * How an order finds its outbox row: the two columns that hold the same value.
 * 'messageId': orders.messageId = outbox.id; 'aggregateId': orders.id = outbox.aggregateId.
 */
export interface Link {
  kind: 'messageId' | 'aggregateId'
  order: Column
  outbox: Column
}

/** The mapped tables (core/mapping.ts) a run reads, and how orders link to outbox rows. */
export interface Schema {
  orders?: OrdersMapping
  outbox?: OutboxMapping
  inbox?: InboxMapping
  /** See orderLink; null also when the outbox is not read. */
  link: Link | null
}

/**
 * How an order finds its outbox row.
 *
 * | orders.messageId exists | outbox.aggregateId exists | link          |
 * | ----------------------- | ------------------------- | ------------- |
 * | yes                     | any                       | 'messageId'   |
 * | no                      | yes                       | 'aggregateId' |
 * | no                      | no                        | null          |
 */
export function orderLink(ordersMessageId: string | null | undefined, outboxAggregateId: string | null | undefined): Link['kind'] | null {
  if (ordersMessageId) return 'messageId'
  if (outboxAggregateId) return 'aggregateId'
  return null
}

/** The link's two columns, from the mappings (see orderLink). */
export function linkOf(orders: OrdersMapping | undefined, outbox: OutboxMapping | undefined): Link | null {
  if (!orders || !outbox) return null
  const column = (c: string | null, name: string | null): Column | null => (c === null || name === null ? null : {c, name})
  const message = column(orders.c.messageId, orders.names.messageId)
  if (message) return {kind: 'messageId', order: message, outbox: {c: outbox.c.id, name: outbox.names.id}}
  const aggregate = column(outbox.c.aggregateId, outbox.names.aggregateId)
  if (aggregate) return {kind: 'aggregateId', order: {c: orders.c.id, name: orders.names.id}, outbox: aggregate}
  return null
}

/** Reads information_schema once; a table a selected check needs must exist with its required columns. */
export async function loadSchema(sql: SqlPort, config: Config, checks: CheckName[]): Promise<Schema> {
  const needed = new Set(checks.flatMap((c) => NEEDS[c]))
  const roles = (['orders', 'outbox', 'inbox'] as const).filter((role) => needed.has(role))
  const mapped: Partial<Mappings> & {checks: Record<TableRole, TableCheck>} = await resolveMappings(sql, config, roles)
  // orphan_consumed uses orders when the table is there; it still runs its outbox half without it.
  if (!mapped.orders && checks.includes('orphan_consumed') && mapped.checks.orders.exists) mapped.orders = ordersMapping(config, requireTable(mapped.checks.orders))
  return {orders: mapped.orders, outbox: mapped.outbox, inbox: mapped.inbox, link: linkOf(mapped.orders, mapped.outbox)}
}

/** Why a selected check cannot run on this schema, or null when it can. */
export function skipReason(check: CheckName, schema: Schema): string | null {
  if (check === 'order_without_message' && schema.link === null)
    return 'cannot link orders to outbox rows: map orders.columns.messageId or outbox.columns.aggregateId'
  if (check === 'cache_drift' && !schema.orders?.c.status) return 'the orders table has no status column to compare with: map orders.columns.status'
  // message_dead needs no time: without one it reads every dead letter, whatever the window.
  if ((check === 'message_stuck' || check === 'sent_not_consumed') && schema.outbox && !schema.outbox.c.createdAt)
    return 'the outbox table has no time column, so no row can be told past the grace period: map outbox.columns.createdAt'
  return null
}

/** A table a check reads, or a clear error when it is not mapped. */
function need<R extends TableRole>(schema: Schema, role: R): Mappings[R] {
  const t = schema[role] as Mappings[R] | undefined
  if (!t) throw new ConfigError(`the ${role} table is needed but not mapped`, `map ${role}.table`)
  return t
}

/** The link (order_without_message runs only with one, see skipReason). */
function needLink(schema: Schema): Link {
  if (!schema.link) throw new ConfigError('cannot link orders to outbox rows', 'map orders.columns.messageId or outbox.columns.aggregateId')
  return schema.link
}

/** The orders' status column, which the cache is compared with (cache_drift runs only with one, see skipReason). */
function orderStatus(o: OrdersMapping): string {
  if (o.c.status === null) throw new ConfigError('the orders table has no status column to compare with', 'map orders.columns.status')
  return o.c.status
}

/** since <= ts, ts < until, ts <= cutoff: the window, with the grace period as a second upper bound. */
function windowOn(ts: string | null, bounds: Bounds): Fragment[] {
  if (!ts) return []
  const where = [fragment(`${ts} >= ?`, bounds.since), fragment(`${ts} <= ?`, bounds.cutoff)]
  if (bounds.until) where.push(fragment(`${ts} < ?`, bounds.until))
  return where
}

/**
 * `(SELECT 1 … LIMIT 1) IS NULL`: true when no row matches. Written as a scalar subquery, not NOT EXISTS, because
 * MariaDB turns NOT EXISTS into NOT IN over a materialized table, which is 20× slower when the column is nullable
 * (orders.message_id, outbox.aggregate_id).
 */
export function noneIn(from: string, condition: string): string {
  return `(SELECT 1 FROM ${from} WHERE ${condition} LIMIT 1) IS NULL`
}

/** True when an order `o` has no outbox row. */
function orderLacksMessage(schema: Schema): string {
  const link = needLink(schema)
  return noneIn(`${need(schema, 'outbox').t} m`, `m.${link.outbox.c} = o.${link.order.c}`)
}

/**
 * How to walk the rows of a table over the window.
 *
 * | the window starts at or before the table's oldest row | order of the scan                                                        |
 * | ----------------------------------------------------- | ------------------------------------------------------------------------ |
 * | yes (it holds the whole table, up to the grace)        | 'key': the primary key, one sequential pass, no lookup per row          |
 * | no, or the table is empty                              | 'time': (timestamp, id) through the timestamp index, only the window's rows |
 * | the table has no timestamp column                      | 'key'                                                                    |
 */
export function scanOrder(since: string, oldest: string | null, hasTimestamp: boolean): ScanOrder {
  if (!hasTimestamp) return 'key'
  return oldest !== null && since <= oldest ? 'key' : 'time'
}

export type ScanOrder = 'key' | 'time'

/** The oldest row time of each mapped table (one index lookup each); undefined for a table not mapped or without a timestamp. */
export async function oldestRows(sql: SqlPort, schema: Schema): Promise<Partial<Record<TableRole, string | null>>> {
  const out: Partial<Record<TableRole, string | null>> = {}
  const timeOf: Record<TableRole, {t: string; ts: string | null} | undefined> = {
    orders: schema.orders && {t: schema.orders.t, ts: schema.orders.c.createdAt},
    outbox: schema.outbox && {t: schema.outbox.t, ts: schema.outbox.c.createdAt},
    inbox: schema.inbox && {t: schema.inbox.t, ts: schema.inbox.c.receivedAt},
  }
  // One index lookup each, side by side: they are waited for before any scan starts.
  await Promise.all(
    (['orders', 'outbox', 'inbox'] as const).map(async (role) => {
      const table = timeOf[role]
      if (!table?.ts) return
      const rows = await sql.query<{oldest: string | null}>(`SELECT DATE_FORMAT(MIN(${table.ts}), ${SQL_TIME_FORMAT}) AS oldest FROM ${table.t}`)
      out[role] = rows[0]?.oldest ?? null
    }),
  )
  return out
}

/** The scan order of orders and outbox (see scanOrder), from their oldest rows. */
export function scanOrders(schema: Schema, bounds: Bounds, oldest: Partial<Record<TableRole, string | null>>): Partial<Record<'orders' | 'outbox', ScanOrder>> {
  const out: Partial<Record<'orders' | 'outbox', ScanOrder>> = {}
  for (const role of ['orders', 'outbox'] as const) {
    if (!schema[role]) continue
    out[role] = oldest[role] === undefined ? 'key' : scanOrder(bounds.since, oldest[role], true)
  }
  return out
}

/** Reads the oldest row time of the orders and outbox tables and decides their scan order. */
export async function chooseScanOrders(sql: SqlPort, schema: Schema, bounds: Bounds): Promise<Partial<Record<'orders' | 'outbox', ScanOrder>>> {
  return scanOrders(schema, bounds, await oldestRows(sql, schema))
}

/** The window holds every row of the table (empty, or its oldest row is inside), so reading all its keys reads only the window. */
export function windowCovers(since: string, oldest: string | null | undefined): boolean {
  return oldest === null || (oldest !== undefined && since <= oldest)
}

export type MergedCheck = 'order_without_message' | 'sent_not_consumed' | 'orphan_consumed'

/**
 * Which checks the merge plan (merge.ts) answers instead of one lookup per row.
 *
 * | check                 | merged when the window covers   | and                                                         |
 * | --------------------- | ------------------------------- | ----------------------------------------------------------- |
 * | order_without_message | orders and outbox               | orders link by messageId                                    |
 * | sent_not_consumed     | outbox and inbox                | -                                                           |
 * | orphan_consumed       | inbox and outbox (and orders)   | orders link by messageId, or no orders table to compare     |
 * | any                   | -                               | the key columns are mergeable (keysMergeable), else none is |
 */
export function mergePlan(checks: CheckName[], schema: Schema, covers: Partial<Record<TableRole, boolean>>): MergedCheck[] {
  const byMessageId = schema.link?.kind === 'messageId'
  const ordersCompared = schema.orders !== undefined && schema.link !== null
  const out: MergedCheck[] = []
  if (checks.includes('order_without_message') && byMessageId && covers.orders && covers.outbox) out.push('order_without_message')
  if (checks.includes('sent_not_consumed') && covers.outbox && covers.inbox) out.push('sent_not_consumed')
  if (checks.includes('orphan_consumed') && covers.inbox && covers.outbox && (!ordersCompared || (byMessageId && covers.orders))) out.push('orphan_consumed')
  return out
}

/** A key column of a table, for the merge (which reads information_schema too): the raw names. */
function keyColumn(t: {name: string}, column: Column): KeyColumn {
  return {table: t.name, column: column.name}
}

/** The key columns the merge of these checks reads: outbox ids always, orders' and inbox's message ids when needed. */
export function mergeColumns(schema: Schema, merged: MergedCheck[]): MergeColumns {
  const m = need(schema, 'outbox')
  const cols: MergeColumns = {outbox: keyColumn(m, {c: m.c.id, name: m.names.id})}
  const orders = schema.orders
  const link = schema.link
  if (orders && link?.kind === 'messageId' && (merged.includes('order_without_message') || merged.includes('orphan_consumed'))) cols.orders = keyColumn(orders, link.order)
  const inbox = schema.inbox
  if (inbox && (merged.includes('sent_not_consumed') || merged.includes('orphan_consumed'))) cols.inbox = keyColumn(inbox, {c: inbox.c.messageId, name: inbox.names.messageId})
  return cols
}

/**
 * A merged check's own SQL, on its candidates only (keys null: the rows whose key is NULL, which no merge sees):
 * the window, the grace period, the status and the anti-join decide, exactly as in the lookup plan.
 */
export function candidateScan(check: MergedCheck, schema: Schema, bounds: Bounds, keys: string[] | null): ScanSpec {
  // Merged, order_without_message belongs to the range of its message id (the merge's key space), not of its order id.
  const spec = findingScan(check, schema, check === 'order_without_message' && bounds.keys ? {...bounds, keys: {...bounds.keys, orders: undefined}} : bounds)
  const key =
    check === 'order_without_message'
      ? `o.${needLink(schema).order.c}`
      : check === 'sent_not_consumed'
        ? `m.${need(schema, 'outbox').c.id}`
        : `i.${need(schema, 'inbox').c.messageId}`
  return {...spec, where: [...spec.where, keys === null ? fragment(`${key} IS NULL`) : fragment(`${key} IN (?)`, keys)]}
}

/**
 * Orders in the window: with no_msg when order_without_message rides along, with status and settled for the cache.
 * The cache alone reads the fewest columns it can (a third of the time on a million orders): unsettled orders are
 * left out by the WHERE, and in key order the time is not read at all (orderTimes fetches it for the few findings).
 */
export function ordersScan(schema: Schema, bounds: Bounds, opts: {withMessage: boolean; withCache: boolean; order?: ScanOrder}): ScanSpec {
  const o = need(schema, 'orders')
  const ts = o.c.createdAt ? `o.${o.c.createdAt}` : null
  const select: Fragment[] = []
  const where = [...windowOn(ts, bounds), ...rangeWhere(`o.${o.c.id}`, bounds.keys?.orders)]
  if (opts.withMessage) select.push(fragment(`${orderLacksMessage(schema)} AS no_msg`))
  const status = opts.withCache ? `o.${orderStatus(o)}` : null
  if (status) {
    select.push(fragment(`${status} AS order_status`))
    // An order updated within the grace period may not have reached the cache yet.
    if (o.c.updatedAt && opts.withMessage) select.push(fragment(`(o.${o.c.updatedAt} <= ?) AS settled`, bounds.cutoff))
    else if (o.c.updatedAt) where.push(fragment(`o.${o.c.updatedAt} <= ?`, bounds.cutoff))
  }
  if (opts.withMessage && !opts.withCache) where.push(fragment(orderLacksMessage(schema)))
  const byKey = opts.order === 'key'
  const untimed = byKey && opts.withCache && !opts.withMessage
  // Only the id and the status: the scan can be read packed.
  const value = untimed && status ? {value: status} : {}
  return {select, from: `${o.t} o`, where, ts, keys: [`o.${o.c.id}`], byKey, untimed, ...value}
}

/** The orders' lowest and highest ids (in the run's range), to cut a scan by id in ranges read side by side. */
export function orderIdEnds(sql: SqlExecutor, schema: Schema, bounds?: Bounds): Promise<KeyEnds> {
  const o = need(schema, 'orders')
  return keyEnds(sql, o.t, o.c.id, 'guess', endsWhere(o.c.id, bounds?.keys?.orders))
}

/**
 * The table whose key range restricts a check's findings (ranges.ts), so that each finding falls in one part.
 *
 * | check                                         | merged | range of                              |
 * | --------------------------------------------- | ------ | ------------------------------------- |
 * | cache_drift                                   | -      | orders (orders.id)                    |
 * | order_without_message                         | no     | orders (orders.id)                    |
 * | order_without_message                         | yes    | outbox (orders.messageId, as outbox ids) |
 * | message_stuck, message_dead, sent_not_consumed | any    | outbox (outbox.id)                    |
 * | consumed_failed, orphan_consumed              | any    | inbox (inbox.messageId)               |
 */
export function rangeRole(check: CheckName, merged: boolean): KeyRole {
  switch (check) {
    case 'cache_drift':
      return 'orders'
    case 'order_without_message':
      return merged ? 'outbox' : 'orders'
    case 'consumed_failed':
    case 'orphan_consumed':
      return 'inbox'
    default:
      return 'outbox'
  }
}

/** The time (created_at) of some orders, for the findings of a scan that did not read it. */
export async function orderTimes(sql: SqlExecutor, schema: Schema, ids: string[]): Promise<Map<string, string | null>> {
  const o = need(schema, 'orders')
  if (ids.length === 0 || !o.c.createdAt) return new Map()
  const rows = await sql.query<{id: unknown; at: string | null}>(
    `SELECT ${o.c.id} AS id, DATE_FORMAT(${o.c.createdAt}, ${SQL_TIME_FORMAT}) AS at FROM ${o.t} WHERE ${o.c.id} IN (?)`,
    [ids],
  )
  return new Map(rows.map((r) => [String(r.id), r.at]))
}

export type SqlCheck = Exclude<CheckName, 'cache_drift' | 'order_without_message'>

/** The finding rows of a check that SQL alone decides, oldest first; `detail` explains each when useful. */
export function findingScan(check: SqlCheck | 'order_without_message', schema: Schema, bounds: Bounds, orders: Partial<Record<'orders' | 'outbox', ScanOrder>> = {}): ScanSpec {
  switch (check) {
    case 'order_without_message':
      return ordersScan(schema, bounds, {withMessage: true, withCache: false, order: orders.orders})
    case 'message_stuck':
    case 'message_dead':
    case 'sent_not_consumed': {
      const m = need(schema, 'outbox')
      const ts = m.c.createdAt ? `m.${m.c.createdAt}` : null
      const status = check === 'message_stuck' ? m.statuses.pending : check === 'message_dead' ? m.statuses.deadLetter : m.statuses.sent
      const where = [fragment(`m.${m.c.status} = ?`, status), ...windowOn(ts, bounds), ...rangeWhere(`m.${m.c.id}`, bounds.keys?.outbox)]
      // A row scheduled for later (backoff) is waiting, not stuck.
      if (check === 'message_stuck' && m.c.availableAt) where.push(fragment(`(m.${m.c.availableAt} IS NULL OR m.${m.c.availableAt} <= ?)`, bounds.cutoff))
      if (check === 'sent_not_consumed') {
        const i = need(schema, 'inbox')
        if (m.c.sentAt) where.push(fragment(`(m.${m.c.sentAt} IS NULL OR m.${m.c.sentAt} <= ?)`, bounds.cutoff))
        where.push(fragment(`NOT EXISTS (SELECT 1 FROM ${i.t} i WHERE i.${i.c.messageId} = m.${m.c.id})`))
      }
      // stuck and dead rows are few and found through the (status, created_at) index: they keep the time order.
      const select = check === 'message_stuck' && m.c.attempts ? [fragment(`CONCAT('attempts=', m.${m.c.attempts}) AS detail`)] : []
      return {select, from: `${m.t} m`, where, ts, keys: [`m.${m.c.id}`], byKey: check === 'sent_not_consumed' && orders.outbox === 'key'}
    }
    case 'consumed_failed': {
      const i = need(schema, 'inbox')
      const ts = `i.${i.c.receivedAt}`
      const st = `i.${i.c.status}`
      const detail = i.c.consumer ? `CONCAT('status=', COALESCE(${st}, 'NULL'), ' consumer=', i.${i.c.consumer})` : `CONCAT('status=', COALESCE(${st}, 'NULL'))`
      return {
        select: [fragment(`${detail} AS detail`)],
        from: `${i.t} i`,
        where: [fragment(`(${st} IS NULL OR ${st} <> ?)`, i.statuses.processed), ...windowOn(ts, bounds), ...rangeWhere(`i.${i.c.messageId}`, bounds.keys?.inbox)],
        ts,
        keys: inboxKeys(i),
      }
    }
    case 'orphan_consumed': {
      const i = need(schema, 'inbox')
      const m = need(schema, 'outbox')
      const ts = `i.${i.c.receivedAt}`
      const mid = `i.${i.c.messageId}`
      const {orders, link} = schema
      let noOrder: string | null = null
      if (orders && link?.kind === 'messageId') noOrder = noneIn(`${orders.t} o`, `o.${link.order.c} = ${mid}`)
      else if (orders && link?.kind === 'aggregateId') noOrder = noneIn(`${orders.t} o`, `o.${link.order.c} = m.${link.outbox.c}`)
      const missing = `m.${m.c.id} IS NULL`
      const consumer = i.c.consumer ? `, ' (consumer ', i.${i.c.consumer}, ')'` : ''
      return {
        select: [fragment(`CONCAT(CASE WHEN ${missing} THEN 'no outbox row' ELSE 'no order' END${consumer}) AS detail`)],
        from: `${i.t} i LEFT JOIN ${m.t} m ON m.${m.c.id} = ${mid}`,
        where: [fragment(noOrder ? `(${missing} OR ${noOrder})` : missing), ...windowOn(ts, bounds), ...rangeWhere(mid, bounds.keys?.inbox)],
        ts,
        keys: inboxKeys(i),
      }
    }
  }
}

/** An inbox record is one (message id, consumer); without a consumer column, the message id alone. */
function inboxKeys(i: InboxMapping): string[] {
  return [`i.${i.c.messageId}`, ...(i.c.consumer ? [`i.${i.c.consumer}`] : [])]
}

/** `IN (?, ?, …)` over these ids, one placeholder each. */
function inIds(column: string, ids: string[]): Fragment {
  return fragment(`${column} IN (${ids.map(() => '?').join(', ')})`, ...ids)
}

/** `UPDATE outbox m SET … WHERE …`, the parameters of the assignments before those of the conditions. */
function updateOutbox(m: OutboxMapping, sets: Fragment[], where: Fragment[]): Fragment {
  return joinFragments([fragment(`UPDATE ${m.t} m SET`), joinFragments(sets, ', '), fragment('WHERE'), joinFragments(where, ' AND ')], ' ')
}

/** The fix UPDATEs re-check the finding's condition, so a row that changed since the scan is left alone. */
export function requeueSentSql(schema: Schema, ids: string[]): Fragment {
  const m = need(schema, 'outbox')
  const i = need(schema, 'inbox')
  const sets = [fragment(`m.${m.c.status} = ?`, m.statuses.pending)]
  if (m.c.availableAt) sets.push(fragment(`m.${m.c.availableAt} = NULL`))
  if (m.c.lastError) sets.push(fragment(`m.${m.c.lastError} = ?`, 'msgops reconcile: sent but never consumed; set back to pending'))
  const where = [
    fragment(`m.${m.c.status} = ?`, m.statuses.sent),
    inIds(`m.${m.c.id}`, ids),
    fragment(`NOT EXISTS (SELECT 1 FROM ${i.t} i WHERE i.${i.c.messageId} = m.${m.c.id})`),
  ]
  return updateOutbox(m, sets, where)
}

export function requeueDeadSql(schema: Schema, ids: string[]): Fragment {
  const m = need(schema, 'outbox')
  const sets = [fragment(`m.${m.c.status} = ?`, m.statuses.pending)]
  // A requeued dead letter gets its attempts back, or the next drain would dead-letter it again at once.
  if (m.c.attempts) sets.push(fragment(`m.${m.c.attempts} = 0`))
  if (m.c.availableAt) sets.push(fragment(`m.${m.c.availableAt} = NULL`))
  const where = [fragment(`m.${m.c.status} = ?`, m.statuses.deadLetter), inIds(`m.${m.c.id}`, ids)]
  return updateOutbox(m, sets, where)
}
