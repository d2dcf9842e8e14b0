import type {Config} from '../../config/schema.js'
import {ConfigError} from '../errors.js'
import type {SqlPort} from '../ports.js'
import {qid} from '../sql.js'
import {inspectTables, requireTable} from '../tables.js'

export type StatusName = 'pending' | 'sent' | 'deadLetter'
export type StatusValue = string | number

/** The outbox table as it really is: quoted names of the mapped columns that exist, null for the others. */
export interface OutboxTable {
  /** The configured table name, for messages. */
  name: string
  /** Quoted table name, ready for SQL. */
  t: string
  /** Quoted column names by logical name; null when the column is not mapped or missing from the table. */
  c: {
    id: string
    payload: string
    status: string
    /** Null for a table without a time column: no ages, no --older-than, and the drain takes every pending row. */
    createdAt: string | null
    aggregateType: string | null
    aggregateId: string | null
    eventType: string | null
    exchange: string | null
    routingKey: string | null
    headers: string | null
    attempts: string | null
    lastError: string | null
    availableAt: string | null
    sentAt: string | null
  }
  statuses: Record<StatusName, StatusValue>
  /** Fallbacks when the row has no exchange / routing key column or value. */
  exchange: string | null
  routingKey: string | null
}

/** Reads information_schema once and returns the outbox mapping, or a clear ConfigError. */
export async function resolveOutbox(sql: SqlPort, config: Config): Promise<OutboxTable> {
  const checks = await inspectTables(sql, config)
  return outboxTableFrom(config, requireTable(checks.outbox))
}

export function outboxTableFrom(config: Config, columns: Record<string, string | null>): OutboxTable {
  const q = (logical: string): string | null => (columns[logical] ? qid(columns[logical]!) : null)
  const {pending, sent, deadLetter} = config.outbox.statuses
  if (new Set([String(pending), String(sent), String(deadLetter)]).size < 3)
    throw new ConfigError('outbox.statuses: pending, sent and deadLetter must be three different values', 'fix outbox.statuses in the configuration')
  return {
    name: config.outbox.table,
    t: qid(config.outbox.table),
    c: {
      id: q('id')!,
      payload: q('payload')!,
      status: q('status')!,
      createdAt: q('createdAt'),
      aggregateType: q('aggregateType'),
      aggregateId: q('aggregateId'),
      eventType: q('eventType'),
      exchange: q('exchange'),
      routingKey: q('routingKey'),
      headers: q('headers'),
      attempts: q('attempts'),
      lastError: q('lastError'),
      availableAt: q('availableAt'),
      sentAt: q('sentAt'),
    },
    statuses: {pending, sent, deadLetter},
    exchange: config.outbox.exchange,
    routingKey: config.outbox.routingKey,
  }
}

/** The logical name of a stored status value, or the raw value as text when it is none of the three. */
export function statusName(table: OutboxTable, value: unknown): string {
  for (const [name, configured] of Object.entries(table.statuses)) if (String(configured) === String(value)) return name === 'deadLetter' ? 'dead-letter' : name
  return String(value)
}

/**
 * Accepts a status as a user types it: pending, sent, dead-letter (or dead_letter, deadLetter), or a configured raw value.
 */
export function parseStatus(table: OutboxTable, input: string): StatusValue | undefined {
  const key = input.trim().toLowerCase().replaceAll(/[-_]/g, '')
  if (key === 'pending') return table.statuses.pending
  if (key === 'sent') return table.statuses.sent
  if (key === 'deadletter' || key === 'dead') return table.statuses.deadLetter
  for (const value of Object.values(table.statuses)) if (String(value) === input.trim()) return value
  return undefined
}

/** JSON columns come back as objects on MySQL 8 and as strings on MariaDB (or TEXT columns): always give the JSON text. */
export function payloadText(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  if (typeof value === 'string') return value
  return JSON.stringify(value)
}

/** The parsed JSON of a column value, or the text itself when it is not JSON. */
export function parseJsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null
  if (typeof value === 'object' && !Buffer.isBuffer(value)) return value
  const text = payloadText(value)
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Headers column as a plain object; anything that is not a JSON object gives no headers. */
export function headersOf(value: unknown): Record<string, unknown> {
  const parsed = parseJsonValue(value)
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {}
}
