import {UsageError} from '../errors.js'
import type {Row, SqlExecutor} from '../ports.js'
import type {OutboxTable, StatusValue} from './table.js'

/** One outbox row under logical names, whatever the table calls its columns. */
export interface OutboxRow {
  id: string
  status: unknown
  payload: unknown
  headers: unknown
  aggregateType: string | null
  aggregateId: string | null
  eventType: string | null
  exchange: string | null
  routingKey: string | null
  attempts: number | null
  lastError: string | null
  createdAt: Date | string | null
  availableAt: Date | string | null
  sentAt: Date | string | null
  /** Milliseconds since created_at, computed by the server so that time zones play no part; null without a time column. */
  ageMs: number | null
}

/** Filters shared by list, requeue and drain; every value reaches SQL as a parameter. */
export interface RowFilter {
  status?: StatusValue
  /** created_at at least this old. */
  olderThanMs?: number
  /** created_at at most this old. */
  newerThanMs?: number
  /** created_at later than this long after now (written in another time zone). */
  createdAfterNowMs?: number
  aggregateId?: string
  eventType?: string
  /** Rows published to this exchange: their own exchange column, or outbox.exchange when they have none. */
  exchange?: string
  errorContains?: string
  ids?: string[]
  /** Keyset cursor: id greater than this. */
  afterId?: string
  /** Leave out rows whose available_at is still in the future (when the column exists). */
  availableOnly?: boolean
  /** Only the rows of this part: a hash of the aggregate id (the row id where there is none), modulo the count. */
  part?: {index: number; count: number}
  /** Not these rows. */
  notIds?: string[]
  /** Only a row with no earlier unsent row of its aggregate: events of one aggregate leave in id order, one at a time. */
  ordered?: boolean
}

/** The optional columns a drain reads (drainSelectList). */
const DRAIN_COLUMNS = ['headers', 'eventType', 'exchange', 'routingKey', 'attempts'] as const

const OPTIONAL = ['aggregateType', 'aggregateId', 'eventType', 'exchange', 'routingKey', 'headers', 'attempts', 'lastError', 'availableAt', 'sentAt'] as const

/** The SQL of the outbox, built from the resolved mapping: identifiers through qid, values as `?`. */
export class OutboxRepository {
  constructor(readonly table: OutboxTable) {}

  get hasAttempts(): boolean {
    return this.table.c.attempts !== null
  }

  /** Select list giving OutboxRow aliases; a missing optional column reads as NULL. */
  selectList(): string {
    const c = this.table.c
    const parts = [`${c.id} AS \`id\``, `${c.status} AS \`status\``, `${c.payload} AS \`payload\``, `${c.createdAt ?? 'NULL'} AS \`createdAt\``]
    for (const name of OPTIONAL) parts.push(`${c[name] ?? 'NULL'} AS \`${name}\``)
    parts.push(`${this.ageSql()} AS \`ageMs\``)
    return parts.join(', ')
  }

  /**
   * The select list of lockBatch: only what a drain publishes and decides with (id, payload, headers, type, exchange,
   * routing key, attempts). The other OutboxRow fields read as null: no DATETIME decoded or age computed per row.
   */
  drainSelectList(): string {
    const c = this.table.c
    const parts = [`${c.id} AS \`id\``, `${c.payload} AS \`payload\``]
    for (const name of DRAIN_COLUMNS) if (c[name]) parts.push(`${c[name]} AS \`${name}\``)
    return parts.join(', ')
  }

  /** The row's age in milliseconds by the server's clock, or NULL when the table has no time column. */
  ageSql(): string {
    const created = this.table.c.createdAt
    return created ? `TIMESTAMPDIFF(MICROSECOND, ${created}, NOW(3)) DIV 1000` : 'NULL'
  }

  /** The time column, or a one-line refusal naming the flag that needs it: a silently ignored age filter would pick the wrong rows. */
  timeColumn(flag: string): string {
    const created = this.table.c.createdAt
    if (created) return created
    throw new UsageError(`the outbox table "${this.table.name}" has no time column, so ${flag} cannot apply`, `map outbox.columns.createdAt to its creation time column, or leave out ${flag}`)
  }

  /** WHERE clause and its parameters for a filter. */
  where(filter: RowFilter): {sql: string; params: unknown[]} {
    const c = this.table.c
    const conditions: string[] = []
    const params: unknown[] = []
    if (filter.status !== undefined) {
      conditions.push(`${c.status} = ?`)
      params.push(filter.status)
    }
    if (filter.olderThanMs !== undefined) {
      conditions.push(`${this.timeColumn('--older-than')} <= NOW(3) - INTERVAL ? MICROSECOND`)
      params.push(Math.round(filter.olderThanMs * 1000))
    }
    if (filter.createdAfterNowMs !== undefined && c.createdAt) {
      conditions.push(`${c.createdAt} > NOW(3) + INTERVAL ? MICROSECOND`)
      params.push(Math.round(filter.createdAfterNowMs * 1000))
    }
    if (filter.newerThanMs !== undefined) {
      conditions.push(`${this.timeColumn('--newer-than')} >= NOW(3) - INTERVAL ? MICROSECOND`)
      params.push(Math.round(filter.newerThanMs * 1000))
    }
    if (filter.aggregateId !== undefined && c.aggregateId) {
      conditions.push(`${c.aggregateId} = ?`)
      params.push(filter.aggregateId)
    }
    if (filter.eventType !== undefined && c.eventType) {
      conditions.push(`${c.eventType} = ?`)
      params.push(filter.eventType)
    }
    if (filter.exchange !== undefined) {
      // A row without an exchange of its own goes to outbox.exchange.
      const fallback = this.table.exchange === filter.exchange
      if (c.exchange) {
        conditions.push(fallback ? `(${c.exchange} = ? OR ${c.exchange} IS NULL)` : `${c.exchange} = ?`)
        params.push(filter.exchange)
      } else if (!fallback) conditions.push('FALSE')
    }
    if (filter.errorContains !== undefined && c.lastError) {
      conditions.push(`LOCATE(?, ${c.lastError}) > 0`)
      params.push(filter.errorContains)
    }
    if (filter.ids !== undefined) {
      conditions.push(filter.ids.length > 0 ? `${c.id} IN (?)` : 'FALSE')
      if (filter.ids.length > 0) params.push(filter.ids)
    }
    if (filter.afterId !== undefined) {
      conditions.push(`${c.id} > ?`)
      params.push(filter.afterId)
    }
    if (filter.availableOnly && c.availableAt) conditions.push(`(${c.availableAt} IS NULL OR ${c.availableAt} <= NOW(3))`)
    if (filter.notIds !== undefined && filter.notIds.length > 0) {
      conditions.push(`${c.id} NOT IN (?)`)
      params.push(filter.notIds)
    }
    if (filter.part) {
      conditions.push(`MOD(CRC32(${this.partKey()}), ?) = ?`)
      params.push(filter.part.count, filter.part.index - 1)
    }
    if (filter.ordered) {
      const agg = this.orderedBy()
      const {t} = this.table
      // A scalar subquery, not NOT EXISTS: MariaDB turns NOT EXISTS on a nullable column into a slow NOT IN (see reconcile).
      conditions.push(`(SELECT 1 FROM ${t} AS msgops_e WHERE msgops_e.${agg} = ${t}.${agg} AND msgops_e.${c.id} < ${t}.${c.id} AND msgops_e.${c.status} IN (?, ?) LIMIT 1) IS NULL`)
      params.push(this.table.statuses.pending, this.table.statuses.deadLetter)
    }
    return {sql: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params}
  }

  /** What parts are cut by: the aggregate, so that one aggregate's rows are all in one part; the row id without one. */
  partKey(): string {
    const c = this.table.c
    return c.aggregateId ? `COALESCE(${c.aggregateId}, ${c.id})` : c.id
  }

  /** The aggregate column --ordered keeps in order, or a usage error when the table has none. */
  orderedBy(): string {
    const column = this.table.c.aggregateId
    if (!column) throw new UsageError(`--ordered keeps each aggregate's events in order, and the outbox table "${this.table.name}" has no aggregate id column`, 'map outbox.columns.aggregateId, or leave out --ordered')
    return column
  }

  async count(on: SqlExecutor, filter: RowFilter): Promise<number> {
    const w = this.where(filter)
    const rows = await on.query<{n: unknown}>(`SELECT COUNT(*) AS n FROM ${this.table.t} ${w.sql}`, w.params)
    return Number(rows[0]?.n ?? 0)
  }

  /** Rows in id order, keyset-paginated by filter.afterId. */
  async rows(on: SqlExecutor, filter: RowFilter, limit: number, lock: 'none' | 'update' | 'skip-locked' = 'none'): Promise<OutboxRow[]> {
    const w = this.where(filter)
    const suffix = lock === 'none' ? '' : lock === 'update' ? ' FOR UPDATE' : ' FOR UPDATE SKIP LOCKED'
    const rows = await on.query(`SELECT ${this.selectList()} FROM ${this.table.t} ${w.sql} ORDER BY ${this.table.c.id} LIMIT ?${suffix}`, [...w.params, limit])
    return rows.map(toOutboxRow)
  }

  /**
   * Locks the next batch of a filter, in two steps so that only the chosen rows are locked:
   * 1. the candidates, by a plain (non-locking) read in id order, on whichever index the optimizer likes;
   * 2. those rows by primary key, re-checked against the filter, FOR UPDATE [SKIP LOCKED].
   * A single locking range read would lock every row it scans (a filesort on (status, created_at) scans them all)
   * plus index gaps: concurrent drains then deadlock on their UPDATEs and the application's inserts wait.
   * Rows another drain holds are skipped; lastCandidate moves the cursor past them. The rows carry only the columns of
   * drainSelectList.
   */
  async lockBatch(on: SqlExecutor, filter: RowFilter, limit: number, skipLocked: boolean): Promise<{rows: OutboxRow[]; lastCandidate?: string}> {
    const w = this.where(filter)
    const {t, c} = this.table
    const candidates = await on.query<{id: unknown}>(`SELECT ${c.id} AS \`id\` FROM ${t} ${w.sql} ORDER BY ${c.id} LIMIT ?`, [...w.params, limit])
    if (candidates.length === 0) return {rows: []}
    const ids = candidates.map((r) => String(r.id))
    const locked = this.where({...filter, afterId: undefined, ids})
    const rows = await on.query(
      `SELECT ${this.drainSelectList()} FROM ${t} FORCE INDEX (PRIMARY) ${locked.sql} ORDER BY ${c.id} LIMIT ? FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}`,
      [...locked.params, limit],
    )
    return {rows: rows.map(toOutboxRow), lastCandidate: ids.at(-1)}
  }

  async byId(on: SqlExecutor, id: string): Promise<Row | undefined> {
    const rows = await on.query(`SELECT *, ${this.ageSql()} AS \`msgops_age_ms\` FROM ${this.table.t} WHERE ${this.table.c.id} = ?`, [id])
    return rows[0]
  }

  /**
   * Confirmed rows become sent; the status guard keeps a row another process changed meanwhile untouched.
   * FORCE INDEX (PRIMARY) on every UPDATE: on `id IN (…) AND status = ?` the optimizer may pick the (status, created_at)
   * index and lock its whole pending range, which deadlocks two batches in flight (seen on MariaDB 10.11).
   */
  async markSent(on: SqlExecutor, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0
    const c = this.table.c
    const sets = [`${c.status} = ?`]
    if (c.sentAt) sets.push(`${c.sentAt} = NOW(3)`)
    const result = await on.execute(`UPDATE ${this.table.t} FORCE INDEX (PRIMARY) SET ${sets.join(', ')} WHERE ${c.id} IN (?) AND ${c.status} = ?`, [this.table.statuses.sent, ids, this.table.statuses.pending])
    return result.affectedRows
  }

  /** A failed publish: one more attempt, the error recorded, and the row moved to deadLetter when asked. */
  async markFailed(on: SqlExecutor, ids: string[], error: string, deadLetter: boolean): Promise<number> {
    if (ids.length === 0) return 0
    const c = this.table.c
    const sets: string[] = []
    const params: unknown[] = []
    if (c.attempts) sets.push(`${c.attempts} = ${c.attempts} + 1`)
    if (c.lastError) {
      sets.push(`${c.lastError} = ?`)
      params.push(error.slice(0, 1000))
    }
    if (deadLetter) {
      sets.push(`${c.status} = ?`)
      params.push(this.table.statuses.deadLetter)
    }
    if (sets.length === 0) return 0
    const result = await on.execute(`UPDATE ${this.table.t} FORCE INDEX (PRIMARY) SET ${sets.join(', ')} WHERE ${c.id} IN (?) AND ${c.status} = ?`, [...params, ids, this.table.statuses.pending])
    return result.affectedRows
  }

  /** Dead letters back to pending with attempts reset; guarded by status so a concurrent change wins. */
  async requeue(on: SqlExecutor, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0
    const c = this.table.c
    const sets = [`${c.status} = ?`]
    if (c.attempts) sets.push(`${c.attempts} = 0`)
    const result = await on.execute(`UPDATE ${this.table.t} FORCE INDEX (PRIMARY) SET ${sets.join(', ')} WHERE ${c.id} IN (?) AND ${c.status} = ?`, [this.table.statuses.pending, ids, this.table.statuses.deadLetter])
    return result.affectedRows
  }
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value)
}

export function toOutboxRow(row: Row): OutboxRow {
  return {
    id: String(row.id),
    status: row.status,
    payload: row.payload,
    headers: row.headers ?? null,
    aggregateType: text(row.aggregateType),
    aggregateId: text(row.aggregateId),
    eventType: text(row.eventType),
    exchange: text(row.exchange),
    routingKey: text(row.routingKey),
    attempts: row.attempts === null || row.attempts === undefined ? null : Number(row.attempts),
    lastError: text(row.lastError),
    createdAt: (row.createdAt as Date | string | null) ?? null,
    availableAt: (row.availableAt as Date | string | null) ?? null,
    sentAt: (row.sentAt as Date | string | null) ?? null,
    ageMs: row.ageMs === null || row.ageMs === undefined ? null : Number(row.ageMs),
  }
}
