import type {Config} from '../../config/schema.js'
import {ConfigError} from '../errors.js'
import type {SqlExecutor, SqlPort} from '../ports.js'
import {qid} from '../sql.js'
import {inspectTables, requireTable, type TableRole} from '../tables.js'
import {keyEnds, type KeyEnds} from './cut.js'
import type {MergeColumns} from './merge.js'
import type {ScanSpec} from './scan.js'
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

type Columns = Record<string, string | null>

/** The mapped tables with the columns that really exist, and how orders link to outbox rows. */
export interface Schema {
  config: Config
  tables: Partial<Record<TableRole, {table: string; c: Columns}>>
  /**
   * How an order finds its outbox row.
   *
   * | orders.messageId exists | outbox.aggregateId exists | link          |
   * | ----------------------- | ------------------------- | ------------- |
   * | yes                     | any                       | 'messageId'   |
   * | no                      | yes                       | 'aggregateId' |
   * | no                      | no                        | null          |
   */
  link: 'messageId' | 'aggregateId' | null
}

export function orderLink(ordersMessageId: string | null | undefined, outboxAggregateId: string | null | undefined): Schema['link'] {
  if (ordersMessageId) return 'messageId'
  if (outboxAggregateId) return 'aggregateId'
  return null
}

/** Reads information_schema once; a table a selected check needs must exist with its required columns. */
export async function loadSchema(sql: SqlPort, config: Config, checks: CheckName[]): Promise<Schema> {
  const inspected = await inspectTables(sql, config)
  const needed = new Set(checks.flatMap((c) => NEEDS[c]))
  const tables: Schema['tables'] = {}
  for (const role of ['orders', 'outbox', 'inbox'] as TableRole[]) {
    if (needed.has(role)) tables[role] = {table: inspected[role].table, c: requireTable(inspected[role])}
    // orphan_consumed uses orders when the table is there; it still runs its outbox half without it.
    else if (role === 'orders' && checks.includes('orphan_consumed') && inspected.orders.exists)
      tables.orders = {table: inspected.orders.table, c: requireTable(inspected.orders)}
  }
  const outboxAggregate = tables.outbox?.c.aggregateId ?? (inspected.outbox.exists ? inspected.outbox.columns.aggregateId : null)
  return {config, tables, link: orderLink(tables.orders?.c.messageId, outboxAggregate)}
}

/** Why a selected check cannot run on this schema, or null when it can. */
export function skipReason(check: CheckName, schema: Schema): string | null {
  if (check === 'order_without_message' && schema.link === null)
    return 'cannot link orders to outbox rows: map orders.columns.messageId or outbox.columns.aggregateId'
  if (check === 'cache_drift' && !schema.tables.orders?.c.status) return 'the orders table has no status column to compare with: map orders.columns.status'
  // message_dead needs no time: without one it reads every dead letter, whatever the window.
  if ((check === 'message_stuck' || check === 'sent_not_consumed') && schema.tables.outbox && !schema.tables.outbox.c.createdAt)
    return 'the outbox table has no time column, so no row can be told past the grace period: map outbox.columns.createdAt'
  return null
}

const T = (alias: string, column: string) => `${alias}.${qid(column)}`

function tableOf(schema: Schema, role: TableRole): {name: string; c: Columns} {
  const t = schema.tables[role]
  if (!t) throw new ConfigError(`the ${role} table is needed but not mapped`, `map ${role}.table`)
  return {name: qid(t.table), c: t.c}
}

/** since <= ts, ts < until, ts <= cutoff: the window, with the grace period as a second upper bound. */
function windowOn(ts: string | null, bounds: Bounds): {where: string[]; params: unknown[]} {
  if (!ts) return {where: [], params: []}
  const where = [`${ts} >= ?`, `${ts} <= ?`]
  const params: unknown[] = [bounds.since, bounds.cutoff]
  if (bounds.until) {
    where.push(`${ts} < ?`)
    params.push(bounds.until)
  }
  return {where, params}
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
  const m = tableOf(schema, 'outbox')
  const o = tableOf(schema, 'orders')
  if (schema.link === 'messageId') return noneIn(`${m.name} m`, `${T('m', m.c.id!)} = ${T('o', o.c.messageId!)}`)
  return noneIn(`${m.name} m`, `${T('m', m.c.aggregateId!)} = ${T('o', o.c.id!)}`)
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
  // One index lookup each, side by side: they are waited for before any scan starts.
  await Promise.all(
    (['orders', 'outbox', 'inbox'] as const).map(async (role) => {
      if (!schema.tables[role]) return
      const t = tableOf(schema, role)
      const ts = role === 'inbox' ? t.c.receivedAt : t.c.createdAt
      if (!ts) return
      const rows = await sql.query<{oldest: string | null}>(`SELECT DATE_FORMAT(MIN(${qid(ts)}), ${SQL_TIME_FORMAT}) AS oldest FROM ${t.name}`)
      out[role] = rows[0]?.oldest ?? null
    }),
  )
  return out
}

/** The scan order of orders and outbox (see scanOrder), from their oldest rows. */
export function scanOrders(schema: Schema, bounds: Bounds, oldest: Partial<Record<TableRole, string | null>>): Partial<Record<'orders' | 'outbox', ScanOrder>> {
  const out: Partial<Record<'orders' | 'outbox', ScanOrder>> = {}
  for (const role of ['orders', 'outbox'] as const) {
    if (!schema.tables[role]) continue
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
  const ordersCompared = schema.tables.orders !== undefined && schema.link !== null
  const out: MergedCheck[] = []
  if (checks.includes('order_without_message') && schema.link === 'messageId' && covers.orders && covers.outbox) out.push('order_without_message')
  if (checks.includes('sent_not_consumed') && covers.outbox && covers.inbox) out.push('sent_not_consumed')
  if (checks.includes('orphan_consumed') && covers.inbox && covers.outbox && (!ordersCompared || (schema.link === 'messageId' && covers.orders)))
    out.push('orphan_consumed')
  return out
}

/** The key columns the merge of these checks reads: outbox ids always, orders' and inbox's message ids when needed. */
export function mergeColumns(schema: Schema, merged: MergedCheck[]): MergeColumns {
  const m = schema.tables.outbox!
  const cols: MergeColumns = {outbox: {table: m.table, column: m.c.id!}}
  const orders = schema.tables.orders
  const ordersCompared = orders !== undefined && schema.link === 'messageId'
  if (orders && (merged.includes('order_without_message') || (merged.includes('orphan_consumed') && ordersCompared)))
    cols.orders = {table: orders.table, column: orders.c.messageId!}
  const inbox = schema.tables.inbox
  if (inbox && (merged.includes('sent_not_consumed') || merged.includes('orphan_consumed'))) cols.inbox = {table: inbox.table, column: inbox.c.messageId!}
  return cols
}

/**
 * A merged check's own SQL, on its candidates only (keys null: the rows whose key is NULL, which no merge sees):
 * the window, the grace period, the status and the anti-join decide, exactly as in the lookup plan.
 */
export function candidateScan(check: MergedCheck, schema: Schema, bounds: Bounds, keys: string[] | null): ScanSpec {
  const spec = findingScan(check, schema, bounds)
  const key =
    check === 'order_without_message'
      ? T('o', tableOf(schema, 'orders').c.messageId!)
      : check === 'sent_not_consumed'
        ? T('m', tableOf(schema, 'outbox').c.id!)
        : T('i', tableOf(schema, 'inbox').c.messageId!)
  if (keys === null) return {...spec, where: [...spec.where, `${key} IS NULL`]}
  return {...spec, where: [...spec.where, `${key} IN (?)`], params: [...spec.params, keys]}
}

/**
 * Orders in the window: with no_msg when order_without_message rides along, with status and settled for the cache.
 * The cache alone reads the fewest columns it can (a third of the time on a million orders): unsettled orders are
 * left out by the WHERE, and in key order the time is not read at all (orderTimes fetches it for the few findings).
 */
export function ordersScan(schema: Schema, bounds: Bounds, opts: {withMessage: boolean; withCache: boolean; order?: ScanOrder}): ScanSpec {
  const o = tableOf(schema, 'orders')
  const ts = o.c.createdAt ? T('o', o.c.createdAt) : null
  const w = windowOn(ts, bounds)
  const select: string[] = []
  const selectParams: unknown[] = []
  const where = [...w.where]
  const params = [...w.params]
  if (opts.withMessage) select.push(`${orderLacksMessage(schema)} AS no_msg`)
  if (opts.withCache) {
    select.push(`${T('o', o.c.status!)} AS order_status`)
    // An order updated within the grace period may not have reached the cache yet.
    if (o.c.updatedAt && opts.withMessage) {
      select.push(`(${T('o', o.c.updatedAt)} <= ?) AS settled`)
      selectParams.push(bounds.cutoff)
    } else if (o.c.updatedAt) {
      where.push(`${T('o', o.c.updatedAt)} <= ?`)
      params.push(bounds.cutoff)
    }
  }
  if (opts.withMessage && !opts.withCache) where.push(orderLacksMessage(schema))
  const byKey = opts.order === 'key'
  const untimed = byKey && opts.withCache && !opts.withMessage
  // Only the id and the status: the scan can be read packed.
  const value = untimed ? {value: T('o', o.c.status!)} : {}
  return {select, selectParams, from: `${o.name} o`, where, params, ts, keys: [T('o', o.c.id!)], byKey, untimed, ...value}
}

/** The orders' lowest and highest ids, to cut a scan by id in ranges read side by side. */
export function orderIdEnds(sql: SqlExecutor, schema: Schema): Promise<KeyEnds> {
  const o = tableOf(schema, 'orders')
  return keyEnds(sql, o.name, qid(o.c.id!), 'guess')
}

/** The time (created_at) of some orders, for the findings of a scan that did not read it. */
export async function orderTimes(sql: SqlExecutor, schema: Schema, ids: string[]): Promise<Map<string, string | null>> {
  const o = tableOf(schema, 'orders')
  if (ids.length === 0 || !o.c.createdAt) return new Map()
  const rows = await sql.query<{id: unknown; at: string | null}>(
    `SELECT ${qid(o.c.id!)} AS id, DATE_FORMAT(${qid(o.c.createdAt)}, ${SQL_TIME_FORMAT}) AS at FROM ${o.name} WHERE ${qid(o.c.id!)} IN (?)`,
    [ids],
  )
  return new Map(rows.map((r) => [String(r.id), r.at]))
}

export type SqlCheck = Exclude<CheckName, 'cache_drift' | 'order_without_message'>

/** The finding rows of a check that SQL alone decides, oldest first; `detail` explains each when useful. */
export function findingScan(check: SqlCheck | 'order_without_message', schema: Schema, bounds: Bounds, orders: Partial<Record<'orders' | 'outbox', ScanOrder>> = {}): ScanSpec {
  const os = schema.config.outbox.statuses
  const is = schema.config.inbox.statuses
  switch (check) {
    case 'order_without_message':
      return ordersScan(schema, bounds, {withMessage: true, withCache: false, order: orders.orders})
    case 'message_stuck':
    case 'message_dead':
    case 'sent_not_consumed': {
      const m = tableOf(schema, 'outbox')
      const ts = m.c.createdAt ? T('m', m.c.createdAt) : null
      const w = windowOn(ts, bounds)
      const status = check === 'message_stuck' ? os.pending : check === 'message_dead' ? os.deadLetter : os.sent
      const where = [`${T('m', m.c.status!)} = ?`, ...w.where]
      const params: unknown[] = [status, ...w.params]
      if (check === 'message_stuck' && m.c.availableAt) {
        // A row scheduled for later (backoff) is waiting, not stuck.
        where.push(`(${T('m', m.c.availableAt)} IS NULL OR ${T('m', m.c.availableAt)} <= ?)`)
        params.push(bounds.cutoff)
      }
      if (check === 'sent_not_consumed') {
        const i = tableOf(schema, 'inbox')
        if (m.c.sentAt) {
          where.push(`(${T('m', m.c.sentAt)} IS NULL OR ${T('m', m.c.sentAt)} <= ?)`)
          params.push(bounds.cutoff)
        }
        where.push(`NOT EXISTS (SELECT 1 FROM ${i.name} i WHERE ${T('i', i.c.messageId!)} = ${T('m', m.c.id!)})`)
      }
      // stuck and dead rows are few and found through the (status, created_at) index: they keep the time order.
      const select = check === 'message_stuck' && m.c.attempts ? [`CONCAT('attempts=', ${T('m', m.c.attempts)}) AS detail`] : []
      return {select, selectParams: [], from: `${m.name} m`, where, params, ts, keys: [T('m', m.c.id!)], byKey: check === 'sent_not_consumed' && orders.outbox === 'key'}
    }
    case 'consumed_failed': {
      const i = tableOf(schema, 'inbox')
      const ts = T('i', i.c.receivedAt!)
      const w = windowOn(ts, bounds)
      const st = T('i', i.c.status!)
      const detail = i.c.consumer ? `CONCAT('status=', COALESCE(${st}, 'NULL'), ' consumer=', ${T('i', i.c.consumer)})` : `CONCAT('status=', COALESCE(${st}, 'NULL'))`
      return {
        select: [`${detail} AS detail`],
        selectParams: [],
        from: `${i.name} i`,
        where: [`(${st} IS NULL OR ${st} <> ?)`, ...w.where],
        params: [is.processed, ...w.params],
        ts,
        keys: inboxKeys(i.c),
      }
    }
    case 'orphan_consumed': {
      const i = tableOf(schema, 'inbox')
      const m = tableOf(schema, 'outbox')
      const ts = T('i', i.c.receivedAt!)
      const w = windowOn(ts, bounds)
      const mid = T('i', i.c.messageId!)
      const orders = schema.tables.orders
      let noOrder: string | null = null
      if (orders && schema.link === 'messageId') noOrder = noneIn(`${qid(orders.table)} o`, `${T('o', orders.c.messageId!)} = ${mid}`)
      else if (orders && schema.link === 'aggregateId') noOrder = noneIn(`${qid(orders.table)} o`, `${T('o', orders.c.id!)} = ${T('m', m.c.aggregateId!)}`)
      const missing = `${T('m', m.c.id!)} IS NULL`
      const consumer = i.c.consumer ? `, ' (consumer ', ${T('i', i.c.consumer)}, ')'` : ''
      return {
        select: [`CONCAT(CASE WHEN ${missing} THEN 'no outbox row' ELSE 'no order' END${consumer}) AS detail`],
        selectParams: [],
        from: `${i.name} i LEFT JOIN ${m.name} m ON ${T('m', m.c.id!)} = ${mid}`,
        where: [noOrder ? `(${missing} OR ${noOrder})` : missing, ...w.where],
        params: w.params,
        ts,
        keys: inboxKeys(i.c),
      }
    }
  }
}

/** An inbox record is one (message id, consumer); without a consumer column, the message id alone. */
function inboxKeys(c: Columns): string[] {
  return [T('i', c.messageId!), ...(c.consumer ? [T('i', c.consumer)] : [])]
}

/** The fix UPDATEs re-check the finding's condition, so a row that changed since the scan is left alone. */
export function requeueSentSql(schema: Schema, count: number): {sql: string; params: unknown[]} {
  const m = tableOf(schema, 'outbox')
  const i = tableOf(schema, 'inbox')
  const {pending, sent} = schema.config.outbox.statuses
  const sets = [`${T('m', m.c.status!)} = ?`]
  const params: unknown[] = [pending]
  if (m.c.availableAt) sets.push(`${T('m', m.c.availableAt)} = NULL`)
  if (m.c.lastError) {
    sets.push(`${T('m', m.c.lastError)} = ?`)
    params.push('msgops reconcile: sent but never consumed; set back to pending')
  }
  params.push(sent)
  const marks = Array.from({length: count}, () => '?').join(', ')
  return {
    sql: `UPDATE ${m.name} m SET ${sets.join(', ')} WHERE ${T('m', m.c.status!)} = ? AND ${T('m', m.c.id!)} IN (${marks}) AND NOT EXISTS (SELECT 1 FROM ${i.name} i WHERE ${T('i', i.c.messageId!)} = ${T('m', m.c.id!)})`,
    params,
  }
}

export function requeueDeadSql(schema: Schema, count: number): {sql: string; params: unknown[]} {
  const m = tableOf(schema, 'outbox')
  const {pending, deadLetter} = schema.config.outbox.statuses
  const sets = [`${T('m', m.c.status!)} = ?`]
  const params: unknown[] = [pending]
  // A requeued dead letter gets its attempts back, or the next drain would dead-letter it again at once.
  if (m.c.attempts) sets.push(`${T('m', m.c.attempts)} = 0`)
  if (m.c.availableAt) sets.push(`${T('m', m.c.availableAt)} = NULL`)
  params.push(deadLetter)
  const marks = Array.from({length: count}, () => '?').join(', ')
  return {sql: `UPDATE ${m.name} m SET ${sets.join(', ')} WHERE ${T('m', m.c.status!)} = ? AND ${T('m', m.c.id!)} IN (${marks})`, params}
}
