import {hostname, userInfo} from 'node:os'

import {maskArgv, maskSecrets} from './mask.js'
import type {Row, SqlExecutor, SqlPort} from './ports.js'
import {auditDdl} from './schema.js'
import {qid} from './sql.js'

export interface AuditEntry {
  command: string
  argv: readonly string[]
  outcome: Record<string, unknown>
  exitCode: number
}

function osUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}

/**
 * Appends one row to the audit table, creating the table when it is missing,
 * so that a state-changing command is recorded even on a schema msgops did not create.
 */
export async function writeAudit(sql: SqlPort, table: string, entry: AuditEntry): Promise<void> {
  const args = JSON.stringify(maskArgv(entry.argv))
  const outcome = maskSecrets(JSON.stringify(entry.outcome))
  const insert = `INSERT INTO ${qid(table)} (os_user, host, command, arguments, outcome, exit_code) VALUES (?, ?, ?, ?, ?, ?)`
  const params = [osUser().slice(0, 128), hostname().slice(0, 255), entry.command.slice(0, 128), args, outcome, entry.exitCode]
  try {
    await sql.execute(insert, params)
  } catch (error) {
    if (!/doesn't exist|ER_NO_SUCH_TABLE/i.test((error as Error).message)) throw error
    await sql.execute(auditDdl(table))
    await sql.execute(insert, params)
  }
}

/** One audit record as msgops wrote it; `at` is an absolute instant (ISO 8601, UTC) whatever the zones involved. */
export interface AuditRecord {
  id: string
  at: string
  osUser: string
  host: string
  command: string
  arguments: string[]
  outcome: Record<string, unknown>
  exitCode: number
}

export type AuditResult = 'ok' | 'found' | 'error' | 'interrupted'

/**
 * The exit codes a result stands for (the audit stores the exit code).
 *
 * | result      | exit codes     |
 * | ----------- | -------------- |
 * | ok          | 0              |
 * | found       | 1              |
 * | error       | 2              |
 * | interrupted | 129, 130, 143  |
 */
export const AUDIT_RESULTS: Record<AuditResult, number[]> = {ok: [0], found: [1], error: [2], interrupted: [129, 130, 143]}

export interface AuditFilter {
  /** A command id, "outbox drain" or "outbox:drain"; a trailing * takes every command it starts. */
  command?: string
  sinceMs?: number
  untilMs?: number
  result?: AuditResult
  /** Keyset cursor: records older than this id. */
  beforeId?: string
  limit: number
}

export interface AuditPage {
  records: AuditRecord[]
  /** The --before value of the next page, when there may be one. */
  next?: string
}

// UNIX_TIMESTAMP reads the DATETIME in the session's zone, the zone CURRENT_TIMESTAMP wrote it in: an exact instant.
const SELECT = 'SELECT `id`, UNIX_TIMESTAMP(`at`) AS `atS`, `os_user`, `host`, `command`, `arguments`, `outcome`, `exit_code` FROM'

/** Audit records, newest first, a page at a time (keyset on id; the time range on the `at` index). */
export async function listAudit(sql: SqlExecutor, table: string, filter: AuditFilter): Promise<AuditPage> {
  const where: string[] = []
  const params: unknown[] = []
  if (filter.command !== undefined) {
    const command = filter.command.trim().replaceAll(/\s+/g, ':')
    if (command.endsWith('*')) {
      where.push('`command` LIKE ?')
      params.push(`${command.slice(0, -1).replaceAll(/[\\%_]/g, '\\$&')}%`)
    } else {
      where.push('`command` = ?')
      params.push(command)
    }
  }
  if (filter.sinceMs !== undefined) {
    where.push('`at` >= NOW(3) - INTERVAL ? MICROSECOND')
    params.push(Math.round(filter.sinceMs * 1000))
  }
  if (filter.untilMs !== undefined) {
    where.push('`at` < NOW(3) - INTERVAL ? MICROSECOND')
    params.push(Math.round(filter.untilMs * 1000))
  }
  if (filter.result !== undefined) {
    where.push('`exit_code` IN (?)')
    params.push(AUDIT_RESULTS[filter.result])
  }
  if (filter.beforeId !== undefined) {
    where.push('`id` < ?')
    params.push(filter.beforeId)
  }
  const rows = await missingIsEmpty(() =>
    sql.query(`${SELECT} ${qid(table)} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY \`id\` DESC LIMIT ?`, [...params, filter.limit + 1]),
  )
  const records = rows.slice(0, filter.limit).map(toRecord)
  return rows.length > filter.limit ? {records, next: records.at(-1)!.id} : {records}
}

/** One audit record by id, or undefined. */
export async function showAudit(sql: SqlExecutor, table: string, id: string): Promise<AuditRecord | undefined> {
  const rows = await missingIsEmpty(() => sql.query(`${SELECT} ${qid(table)} WHERE \`id\` = ?`, [id]))
  return rows.length > 0 ? toRecord(rows[0]) : undefined
}

/** No audit table yet means nothing was ever audited (it is made by the first state-changing run). */
async function missingIsEmpty(read: () => Promise<Row[]>): Promise<Row[]> {
  try {
    return await read()
  } catch (error) {
    if (/doesn't exist|ER_NO_SUCH_TABLE/i.test((error as Error).message)) return []
    throw error
  }
}

function json(value: unknown): unknown {
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

function toRecord(row: Row): AuditRecord {
  return {
    id: String(row.id),
    at: new Date(Math.round(Number(row.atS) * 1000)).toISOString(),
    osUser: String(row.os_user),
    host: String(row.host),
    command: String(row.command).replaceAll(':', ' '),
    arguments: (json(row.arguments) as string[]) ?? [],
    outcome: (json(row.outcome) as Record<string, unknown>) ?? {},
    exitCode: Number(row.exit_code),
  }
}
