import type {Config} from '../../config/schema.js'
import {UsageError} from '../errors.js'
import type {Row, SqlPort} from '../ports.js'
import {type OutboxRow, OutboxRepository, type RowFilter} from './repository.js'
import {type OutboxTable, parseJsonValue, parseStatus, resolveOutbox, statusName} from './table.js'

export interface ListOptions {
  config: Config
  /** pending, sent, dead-letter or a configured raw value. */
  status?: string
  olderThanMs?: number
  newerThanMs?: number
  aggregateId?: string
  eventType?: string
  /** Rows published to this exchange (their own, or outbox.exchange when they have none). */
  exchange?: string
  limit?: number
  /** Keyset cursor: rows whose id is greater. */
  after?: string
}

export interface ListedRow {
  id: string
  status: string
  attempts: number | null
  /** Null when the table has no time column. */
  ageMs: number | null
  eventType: string | null
  aggregateId: string | null
  exchange: string | null
  routingKey: string | null
  lastError: string | null
}

export interface ListResult {
  rows: ListedRow[]
  /** Pass as --after for the next page; null when this page was the last. */
  next: string | null
}

/** Checks that a filter names a column the table has: a silently ignored filter would list the wrong rows. */
export function listFilter(table: OutboxTable, options: Omit<ListOptions, 'config'>): RowFilter {
  const filter: RowFilter = {olderThanMs: options.olderThanMs, newerThanMs: options.newerThanMs, afterId: options.after, exchange: options.exchange}
  if (options.status !== undefined) {
    const value = parseStatus(table, options.status)
    if (value === undefined) throw new UsageError(`unknown status "${options.status.slice(0, 40)}"`, 'use pending, sent or dead-letter')
    filter.status = value
  }
  if (options.aggregateId !== undefined) {
    if (!table.c.aggregateId) throw new UsageError(`the outbox table "${table.name}" has no aggregate id column`, 'map outbox.columns.aggregateId, or leave out --aggregate-id')
    filter.aggregateId = options.aggregateId
  }
  if (options.eventType !== undefined) {
    if (!table.c.eventType) throw new UsageError(`the outbox table "${table.name}" has no event type column`, 'map outbox.columns.eventType, or leave out --event-type')
    filter.eventType = options.eventType
  }
  return filter
}

function listed(table: OutboxTable, row: OutboxRow): ListedRow {
  return {
    id: row.id,
    status: statusName(table, row.status),
    attempts: row.attempts,
    ageMs: row.ageMs,
    eventType: row.eventType,
    aggregateId: row.aggregateId,
    exchange: row.exchange ?? table.exchange,
    routingKey: row.routingKey ?? table.routingKey,
    lastError: row.lastError,
  }
}

/** One page of rows in id order; fetches one extra row to know whether there is a next page. */
export async function listOutbox(sql: SqlPort, options: ListOptions): Promise<ListResult> {
  const table = await resolveOutbox(sql, options.config)
  const limit = options.limit ?? 50
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError(`--limit must be between 1 and 10000, not ${limit}`)
  const repo = new OutboxRepository(table)
  const rows = await repo.rows(sql, listFilter(table, options), limit + 1)
  const page = rows.slice(0, limit)
  return {rows: page.map((r) => listed(table, r)), next: rows.length > limit ? page.at(-1)!.id : null}
}

export interface ShownRow {
  id: string
  status: string
  /** Null when the table has no time column. */
  ageMs: number | null
  /** Every column of the row by its real name; JSON columns parsed, dates as ISO text. */
  columns: Record<string, unknown>
  payload: unknown
}

/** The whole row, or undefined when no row has this id. */
export async function showOutbox(sql: SqlPort, options: {config: Config; id: string}): Promise<ShownRow | undefined> {
  const table = await resolveOutbox(sql, options.config)
  const row = await new OutboxRepository(table).byId(sql, options.id)
  if (!row) return undefined
  // information_schema matched the mapping case-insensitively; the row's keys carry the table's own spelling.
  const unquote = (q: string) => Object.keys(row).find((k) => k.toLowerCase() === q.slice(1, -1).toLowerCase()) ?? q.slice(1, -1)
  const columns: Record<string, unknown> = {}
  const jsonColumns = new Set([table.c.payload, table.c.headers].filter((c): c is string => c !== null).map(unquote))
  for (const [name, value] of Object.entries(row as Row)) {
    if (name === 'msgops_age_ms') continue
    columns[name] = jsonColumns.has(name) ? parseJsonValue(value) : value instanceof Date ? value.toISOString() : Buffer.isBuffer(value) ? value.toString('utf8') : value
  }
  return {
    id: String(row[unquote(table.c.id)]),
    status: statusName(table, row[unquote(table.c.status)]),
    ageMs: row.msgops_age_ms === null || row.msgops_age_ms === undefined ? null : Number(row.msgops_age_ms),
    columns,
    payload: columns[unquote(table.c.payload)],
  }
}
