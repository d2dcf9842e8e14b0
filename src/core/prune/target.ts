import {UsageError} from '../errors.js'
import type {InboxMapping, OutboxMapping} from '../mapping.js'
import type {SqlExecutor} from '../ports.js'
import {qid} from '../sql.js'

/** A condition with its parameters. */
export interface Condition {
  sql: string
  params: unknown[]
}

/**
 * What a prune works on, whichever table: the quoted table, its primary key (walked in keyset chunks), the condition a
 * row must still meet when it is deleted (status and age against cuts fixed at the start), and what must stay.
 */
export interface PruneTarget {
  kind: 'outbox' | 'inbox'
  /** The configured table name, for messages and information_schema. */
  name: string
  t: string
  /** Primary key columns, quoted, in index order. */
  key: string[]
  /** The same columns as named in the table (the keys of an archived row). */
  keyNames: string[]
  /** The column that tells a row's age for the main cut (raw name), e.g. sent_at, or created_at without one. */
  basis: string
  /** Quoted, for oldest/newest. */
  time: string
  eligible: Condition
  /** Rows that must never go by a partition drop: anything but sent (outbox), anything but processed (inbox). */
  mustStay: Condition
  /** The select list of an archived row: time columns as the stored text, so no time zone changes them. */
  archiveColumns: string
  /** What is deleted, in words, for the question and the summary. */
  describe: string
}

export interface Cut {
  /** The instant as the server's DATETIME text, fixed at the start of the run. */
  at: string
  olderThanMs: number
}

/** The server's instant olderThanMs ago, as DATETIME text in its own session time zone (compared with the columns as they are). */
export async function serverCut(sql: SqlExecutor, olderThanMs: number): Promise<Cut> {
  const [row] = await sql.query<{cut: string}>("SELECT DATE_FORMAT(NOW(6) - INTERVAL ? MICROSECOND, '%Y-%m-%d %H:%i:%s.%f') AS cut", [olderThanMs * 1000])
  return {at: String(row.cut), olderThanMs}
}

interface TableShape {
  key: string[]
  columns: {name: string; type: string}[]
}

/** The primary key and the column types, from information_schema; a table without a primary key cannot be walked. */
export async function tableShape(sql: SqlExecutor, table: string): Promise<TableShape> {
  const keys = await sql.query<{c: string}>(
    "SELECT COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
    [table],
  )
  if (keys.length === 0) throw new UsageError(`the table "${table}" has no primary key, so it cannot be pruned in key order`, 'add a primary key (prune walks it in chunks)')
  const columns = await sql.query<{c: string; t: string}>(
    'SELECT COLUMN_NAME AS c, DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [table],
  )
  return {key: keys.map((k) => String(k.c)), columns: columns.map((c) => ({name: String(c.c), type: String(c.t).toLowerCase()}))}
}

const TIME_TYPES = new Set(['datetime', 'timestamp', 'date', 'time', 'year'])

function archiveColumns(shape: TableShape): string {
  return shape.columns.map(({name, type}) => (TIME_TYPES.has(type) ? `CAST(${qid(name)} AS CHAR) AS ${qid(name)}` : qid(name))).join(', ')
}

export interface OutboxPruneChoice {
  sent: Cut
  /** --include-dead-letters with --dead-older-than. */
  dead?: Cut
}

/** Sent rows older than the cut by sent-at (or created-at where no sent-at column is mapped), and dead letters if asked. */
export async function outboxTarget(sql: SqlExecutor, table: OutboxMapping, choice: OutboxPruneChoice): Promise<PruneTarget> {
  const {c, statuses} = table
  const time = c.sentAt ?? c.createdAt
  const basis = table.names.sentAt !== null && c.sentAt ? table.names.sentAt : table.names.createdAt
  if (time === null || basis === null)
    throw new UsageError(`the outbox table "${table.name}" has no time column, so no row can be told old`, 'map outbox.columns.sentAt or outbox.columns.createdAt')
  const parts = [`(${c.status} = ? AND ${time} < ?)`]
  const params: unknown[] = [statuses.sent, choice.sent.at]
  if (choice.dead) {
    if (c.createdAt === null)
      throw new UsageError(`the outbox table "${table.name}" has no created-at column, so --include-dead-letters cannot tell their age`, 'map outbox.columns.createdAt, or leave out --include-dead-letters')
    parts.push(`(${c.status} = ? AND ${c.createdAt} < ?)`)
    params.push(statuses.deadLetter, choice.dead.at)
  }
  const shape = await tableShape(sql, table.name)
  return {
    kind: 'outbox', name: table.name, t: table.t, key: shape.key.map(qid), keyNames: shape.key, basis, time,
    eligible: {sql: `(${parts.join(' OR ')})`, params},
    mustStay: {sql: `${c.status} <> ?`, params: [statuses.sent]},
    archiveColumns: archiveColumns(shape),
    describe: `sent rows whose ${basis} is before ${choice.sent.at}${basis === table.names.sentAt ? '' : ' (no sent-at column is mapped: by creation time)'}${choice.dead ? ` and dead-letter rows created before ${choice.dead.at}` : ''}`,
  }
}

export interface InboxPruneChoice {
  cut: Cut
  includeFailed: boolean
  includeUnprocessed: boolean
}

/** Processed records received before the cut; failed and unprocessed ones only when asked. */
export async function inboxTarget(sql: SqlExecutor, table: InboxMapping, choice: InboxPruneChoice): Promise<PruneTarget> {
  const {c, statuses} = table
  const values: unknown[] = [statuses.processed]
  if (choice.includeFailed) values.push(statuses.failed)
  if (choice.includeUnprocessed) {
    if (statuses.received === null)
      throw new UsageError('inbox.statuses.received is not set, so --include-unprocessed has nothing to tell unprocessed records by', 'set inbox.statuses.received, or leave out --include-unprocessed')
    values.push(statuses.received)
  }
  const shape = await tableShape(sql, table.name)
  const which = ['processed', choice.includeFailed ? 'failed' : '', choice.includeUnprocessed ? 'unprocessed' : ''].filter(Boolean).join(', ')
  return {
    kind: 'inbox', name: table.name, t: table.t, key: shape.key.map(qid), keyNames: shape.key, basis: table.names.receivedAt, time: c.receivedAt,
    eligible: {sql: `(${c.status} IN (?) AND ${c.receivedAt} < ?)`, params: [values, choice.cut.at]},
    mustStay: {sql: `${c.status} <> ?`, params: [statuses.processed]},
    archiveColumns: archiveColumns(shape),
    describe: `${which} records received before ${choice.cut.at}`,
  }
}

/** `(k0 > ?) OR (k0 = ? AND k1 > ?) …`: the rows after a key, in primary key order, on the primary key's range. */
export function keysetAfter(key: string[], after: unknown[]): Condition {
  const ors: string[] = []
  const params: unknown[] = []
  for (let i = 0; i < key.length; i++) {
    const eq = key.slice(0, i).map((k) => `${k} = ?`)
    ors.push(`(${[...eq, `${key[i]} > ?`].join(' AND ')})`)
    params.push(...after.slice(0, i + 1))
  }
  return {sql: key.length === 1 ? `${key[0]} > ?` : `(${ors.join(' OR ')})`, params: key.length === 1 ? [after[0]] : params}
}

/** The rows with these keys: `k IN (…)`, and for a composite key the first column's IN as well, so it stays an index lookup. */
export function keysIn(key: string[], keys: unknown[][]): Condition {
  if (key.length === 1) return {sql: `${key[0]} IN (?)`, params: [keys.map((k) => k[0])]}
  const tuple = `(${key.map(() => '?').join(', ')})`
  return {
    sql: `${key[0]} IN (?) AND (${key.join(', ')}) IN (${keys.map(() => tuple).join(', ')})`,
    params: [[...new Set(keys.map((k) => k[0]))], ...keys.flat()],
  }
}
