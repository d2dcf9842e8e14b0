import {hostname, userInfo} from 'node:os'

import {maskArgv, maskSecrets} from './mask.js'
import type {PublisherPort, Row, SqlExecutor, SqlPort} from './ports.js'
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
 * The ids the run touched (withIds) go to the id table in the same transaction, for `msgops trace`.
 */
export async function writeAudit(sql: SqlPort, table: string, entry: AuditEntry): Promise<void> {
  const touched = (entry.outcome as {[AUDIT_IDS]?: TouchedIds})[AUDIT_IDS]
  const args = JSON.stringify(maskArgv(entry.argv))
  const outcome = maskSecrets(JSON.stringify(touched ? {...entry.outcome, ids: touched.summary()} : entry.outcome))
  const insert = `INSERT INTO ${qid(table)} (os_user, host, command, arguments, outcome, exit_code) VALUES (?, ?, ?, ?, ?, ?)`
  const params = [osUser().slice(0, 128), hostname().slice(0, 255), entry.command.slice(0, 128), args, outcome, entry.exitCode]
  const write = async () => {
    if (!touched || touched.size === 0) {
      await sql.execute(insert, params)
      return
    }
    await sql.transaction(async (tx) => {
      await tx.execute(insert, params)
      const [{id}] = await tx.query<{id: string}>('SELECT LAST_INSERT_ID() AS id')
      for (const chunk of touched.rows(String(id), ID_INSERT_ROWS)) await tx.execute(`INSERT IGNORE INTO ${qid(auditIdsTable(table))} (item_id, audit_id, action) VALUES ?`, [chunk])
    })
  }
  try {
    await write()
  } catch (error) {
    if (!/doesn't exist|ER_NO_SUCH_TABLE/i.test((error as Error).message)) throw error
    await sql.execute(auditDdl(table))
    if (touched && touched.size > 0) await sql.execute(auditIdsDdl(table))
    await write()
  }
}

/** The table naming, per id, the audit records of the runs that touched it: `<audit table>_ids`. */
export function auditIdsTable(table: string): string {
  return `${table}_ids`
}

/**
 * One row per (id, run, action), keyed by the id first: trace finds every run that touched an id in one index lookup.
 * ANY_ID rows stand for the ids a run touched beyond those recorded.
 */
export function auditIdsDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${qid(auditIdsTable(table))} (
  \`item_id\` VARCHAR(191) NOT NULL,
  \`audit_id\` BIGINT NOT NULL,
  \`action\` VARCHAR(32) NOT NULL,
  PRIMARY KEY (\`item_id\`, \`audit_id\`, \`action\`),
  KEY \`idx_audit_ids_audit\` (\`audit_id\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`
}

/** Marks, in the id table, a run that touched more ids than it recorded (see TouchedIds). */
export const ANY_ID = '*'
/** Ids recorded per run at most: `npm run bench -- trace` measures the cost (see docs in bench/trace.ts). */
export const AUDIT_ID_LIMIT = 100_000
const ID_INSERT_ROWS = 1000
const ID_MAX_CHARS = 191

export const AUDIT_IDS = Symbol('msgops audit ids')

/**
 * The ids (message ids, order ids) a state-changing run touched, by action: the first `limit` are recorded one row
 * each in the id table, the rest only counted (and marked with an ANY_ID row), so memory and writes stay bounded.
 */
export class TouchedIds {
  private readonly byId = new Map<string, Set<string>>()
  private readonly totals = new Map<string, number>()
  private recorded = 0

  constructor(private readonly limit = AUDIT_ID_LIMIT) {}

  /** Recorded (id, action) pairs. */
  get size(): number {
    return this.recorded + [...this.totals.keys()].filter((a) => this.truncated(a)).length
  }

  add(action: string, ids: Iterable<string>, total?: number): this {
    let seen = 0
    for (const id of ids) {
      seen++
      const actions = this.byId.get(id)
      if (actions?.has(action)) continue
      if (this.recorded >= this.limit || id.length > ID_MAX_CHARS) {
        this.count(action, 1, true)
        continue
      }
      if (actions) actions.add(action)
      else this.byId.set(id, new Set([action]))
      this.recorded++
      this.count(action, 1, false)
    }
    // A caller that knows more were touched than it lists (reconcile keeps the first ids of each fix).
    if (total !== undefined && total > seen) this.count(action, total - seen, true)
    return this
  }

  /** The publisher, recording the message id of every message the broker answered for, by its answer. */
  publisher(publisher: PublisherPort, action: string): PublisherPort {
    return {
      publishBatch: async (messages, options) => {
        const outcomes = await publisher.publishBatch(messages, options)
        for (const [n, outcome] of outcomes.entries()) {
          const id = messages[n].properties.messageId
          if (id !== undefined) this.add(outcome.status === 'confirmed' ? action : `${action}:${outcome.status}`, [id])
        }
        return outcomes
      },
      ...(publisher.missingExchanges ? {missingExchanges: (names: string[]) => publisher.missingExchanges!(names)} : {}),
      close: () => publisher.close(),
    }
  }

  /** What the audit record's outcome says about its ids: per action, how many were touched and how many recorded. */
  summary(): Record<string, {touched: number; recorded: number}> {
    const out: Record<string, {touched: number; recorded: number}> = {}
    for (const [action, total] of this.totals) out[action] = {touched: total, recorded: total - (this.over.get(action) ?? 0)}
    return out
  }

  /** The id table's rows for audit record `auditId`, in chunks. */
  *rows(auditId: string, chunk: number): Generator<[string, string, string][]> {
    let rows: [string, string, string][] = []
    const push = function* (row: [string, string, string]) {
      rows.push(row)
      if (rows.length >= chunk) {
        yield rows
        rows = []
      }
    }
    for (const [id, actions] of this.byId) for (const action of actions) yield* push([id, auditId, action.slice(0, 32)])
    for (const action of this.totals.keys()) if (this.truncated(action)) yield* push([ANY_ID, auditId, action.slice(0, 32)])
    if (rows.length > 0) yield rows
  }

  private readonly over = new Map<string, number>()

  private count(action: string, n: number, over: boolean): void {
    this.totals.set(action, (this.totals.get(action) ?? 0) + n)
    if (over) this.over.set(action, (this.over.get(action) ?? 0) + n)
  }

  private truncated(action: string): boolean {
    return (this.over.get(action) ?? 0) > 0
  }
}

/** The outcome, carrying the ids the run touched to writeAudit (a symbol key: never part of the JSON itself). */
export function withIds<T extends Record<string, unknown>>(outcome: T, ids: TouchedIds): T {
  return Object.assign(outcome, {[AUDIT_IDS]: ids})
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

/** One run that touched an id: the action it recorded, and its audit record. */
export interface AuditTouch {
  itemId: string
  action: string
  record: AuditRecord
}

const TOUCH_SELECT = 'SELECT i.`item_id`, i.`action`, a.`id`, UNIX_TIMESTAMP(a.`at`) AS `atS`, a.`os_user`, a.`host`, a.`command`, a.`arguments`, a.`outcome`, a.`exit_code`'

/** The runs that recorded any of these ids, oldest first: one lookup on the id table's primary key, one per audit row. */
export async function auditTouching(sql: SqlExecutor, table: string, ids: string[]): Promise<AuditTouch[]> {
  if (ids.length === 0) return []
  const rows = await missingIsEmpty(() =>
    sql.query(`${TOUCH_SELECT} FROM ${qid(auditIdsTable(table))} i JOIN ${qid(table)} a ON a.\`id\` = i.\`audit_id\` WHERE i.\`item_id\` IN (?) ORDER BY a.\`id\``, [ids]),
  )
  return rows.map((row) => ({itemId: String(row.item_id), action: String(row.action), record: toRecord(row)}))
}

/**
 * The newest runs (at most `limit`) since an instant that touched more ids than they recorded: any of them may have
 * touched an id no record names. The ANY_ID prefix of the id table's key, from the first audit id at that instant.
 */
export async function auditUnrecorded(sql: SqlExecutor, table: string, sinceS: number | null, limit: number): Promise<AuditTouch[]> {
  const from = sinceS === null ? '' : ` AND i.\`audit_id\` >= (SELECT COALESCE(MIN(\`id\`), 0) FROM ${qid(table)} WHERE \`at\` >= FROM_UNIXTIME(?))`
  const rows = await missingIsEmpty(() =>
    sql.query(
      `${TOUCH_SELECT} FROM ${qid(auditIdsTable(table))} i JOIN ${qid(table)} a ON a.\`id\` = i.\`audit_id\` WHERE i.\`item_id\` = ?${from} ORDER BY i.\`audit_id\` DESC LIMIT ?`,
      sinceS === null ? [ANY_ID, limit] : [ANY_ID, sinceS, limit],
    ),
  )
  return rows.map((row) => ({itemId: String(row.item_id), action: String(row.action), record: toRecord(row)}))
}
