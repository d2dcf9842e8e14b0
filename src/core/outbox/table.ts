import type {Config} from '../../config/schema.js'
import {type OutboxMapping, outboxMapping, resolveMappings, type StatusValue} from '../mapping.js'
import type {SqlExecutor} from '../ports.js'

export type StatusName = 'pending' | 'sent' | 'deadLetter'
export type {StatusValue} from '../mapping.js'

/** The outbox table as it really is (the one resolved mapping, core/mapping.ts). */
export type OutboxTable = OutboxMapping

/** Reads information_schema once and returns the outbox mapping, or a clear ConfigError. */
export async function resolveOutbox(sql: SqlExecutor, config: Config): Promise<OutboxTable> {
  return (await resolveMappings(sql, config, ['outbox'])).outbox
}

export const outboxTableFrom = outboxMapping

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
  const read = rowHeaders(value)
  return 'headers' in read ? read.headers : {}
}

/**
 * The headers a row asks to be published with.
 *
 * | headers column                 | result                                          |
 * | ------------------------------ | ----------------------------------------------- |
 * | NULL, empty text               | no headers                                      |
 * | a JSON object                  | that object                                     |
 * | JSON that is not an object     | invalid: "the headers column holds a JSON …"    |
 * | text that is not JSON          | invalid: "the headers column is not JSON: …"    |
 */
export function rowHeaders(value: unknown): {headers: Record<string, unknown>} | {invalid: string} {
  if (value === null || value === undefined) return {headers: {}}
  if (typeof value === 'object' && !Buffer.isBuffer(value)) return Array.isArray(value) ? {invalid: 'the headers column holds a JSON array, not an object'} : {headers: value as Record<string, unknown>}
  const text = payloadText(value)
  if (text.trim() === '') return {headers: {}}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return {invalid: `the headers column is not JSON: ${(error as Error).message}`}
  }
  if (parsed === null) return {headers: {}}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return {invalid: `the headers column holds a JSON ${Array.isArray(parsed) ? 'array' : typeof parsed}, not an object`}
  return {headers: parsed as Record<string, unknown>}
}
