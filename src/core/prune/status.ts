import {parseDuration} from '../duration.js'
import type {OutboxMapping} from '../mapping.js'
import type {SqlExecutor} from '../ports.js'

export interface TableSize {
  /** The statistics' row estimate (information_schema.TABLES.TABLE_ROWS). */
  rows: number
  dataBytes: number
  indexBytes: number
}

export interface Prunable {
  retention: string
  retentionMs: number
  /** Sent rows older than the retention, counted up to the cap. */
  rows: number
  /** More than the cap: rows is a lower bound. */
  capped: boolean
  /** The column that tells their age (sent_at, or created_at where no sent-at column is mapped). */
  basis: string
}

/** A table's size from the statistics: no scan. */
export async function tableSize(sql: SqlExecutor, table: string): Promise<TableSize | null> {
  const [row] = await sql.query<{n: unknown; d: unknown; i: unknown}>(
    'SELECT TABLE_ROWS AS n, DATA_LENGTH AS d, INDEX_LENGTH AS i FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
    [table],
  )
  return row ? {rows: Number(row.n ?? 0), dataBytes: Number(row.d ?? 0), indexBytes: Number(row.i ?? 0)} : null
}

/** Sent rows older than outbox.retention (what `outbox prune` would delete), counted on an index range up to cap. */
export async function prunableRows(sql: SqlExecutor, table: OutboxMapping, retention: string, cap: number): Promise<Prunable | null> {
  const time = table.c.sentAt ?? table.c.createdAt
  const basis = table.c.sentAt ? table.names.sentAt : table.names.createdAt
  if (time === null || basis === null) return null
  const retentionMs = parseDuration(retention, 'outbox.retention')
  const [row] = await sql.query<{n: unknown}>(
    `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${table.t} WHERE ${table.c.status} = ? AND ${time} < NOW(3) - INTERVAL ? MICROSECOND LIMIT ?) AS capped`,
    [table.statuses.sent, retentionMs * 1000, cap + 1],
  )
  const n = Number(row?.n ?? 0)
  return {retention, retentionMs, rows: Math.min(n, cap), capped: n > cap, basis}
}
