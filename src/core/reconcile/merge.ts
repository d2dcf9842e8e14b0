import type {SqlExecutor, SqlPort} from '../ports.js'
import {qid} from '../sql.js'
import {throwIfAborted} from './scan.js'

/**
 * The merge plan of a full reconciliation: instead of one index lookup per row (an anti-join per check), the key
 * columns of outbox, orders and inbox are read once each, in their index order and in ranges the database cuts,
 * and compared in memory. Keys that have no partner are only candidates: each check's own SQL condition is then
 * run on them (window, grace, status), so the findings are exactly those of the lookup plan.
 */

/** A key column to stream: the raw (unquoted) table and column names. */
export interface KeyColumn {
  table: string
  column: string
}

/** What information_schema says about a key column. */
export interface KeyColumnInfo {
  dataType: string
  collation: string | null
  /** The column leads an index, so reading it in order is a range scan and not a sort. */
  indexed: boolean
}

const INTEGER = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'])
const TEXT = new Set(['char', 'varchar'])

/**
 * Whether key columns can be merged: their ranges must be cut by one ordering, or a key could fall between
 * two tables' ranges and be missed.
 *
 * | columns                                              | mergeable |
 * | ---------------------------------------------------- | --------- |
 * | all CHAR/VARCHAR, one collation, each leads an index | yes       |
 * | all integer types, each leads an index               | yes       |
 * | any column without a leading index                   | no        |
 * | mixed types, or two collations                        | no        |
 */
export function keysMergeable(columns: KeyColumnInfo[]): boolean {
  if (columns.length === 0 || columns.some((c) => !c.indexed)) return false
  const types = columns.map((c) => c.dataType.toLowerCase())
  if (types.every((t) => INTEGER.has(t))) return true
  return types.every((t) => TEXT.has(t)) && new Set(columns.map((c) => c.collation)).size === 1
}

/** Reads type, collation and whether an index starts with the column, for each key column. */
export async function keyColumnInfo(sql: SqlPort, columns: KeyColumn[]): Promise<KeyColumnInfo[]> {
  const info = await sql.query<{t: string; c: string; dt: string; coll: string | null}>(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS dt, COLLATION_NAME AS coll FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [columns.map((c) => c.table)],
  )
  const leading = await sql.query<{t: string; c: string}>(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) AND SEQ_IN_INDEX = 1',
    [columns.map((c) => c.table)],
  )
  const same = (a: {t: string; c: string}, k: KeyColumn) => String(a.t).toLowerCase() === k.table.toLowerCase() && String(a.c).toLowerCase() === k.column.toLowerCase()
  return columns.map((k) => {
    const row = info.find((r) => same(r, k))
    return {dataType: String(row?.dt ?? 'unknown'), collation: row?.coll ?? null, indexed: leading.some((r) => same(r, k))}
  })
}

/** Separates the keys of a packed page: a control character no real key holds; a page where it does is read row by row. */
const SEP = '\u001E'

/**
 * The next keys of a column in its index order, after `after` (exclusive) and up to `upTo` (inclusive), at most `limit`.
 * The page comes back as one row (COUNT, MAX, GROUP_CONCAT): a tenth of the client work of one row per key.
 */
export async function keyPage(sql: SqlExecutor, col: KeyColumn, after: string | null, upTo: string | null, limit: number): Promise<{keys: string[]; last: string | null}> {
  const c = qid(col.column)
  const where = [`${c} IS NOT NULL`]
  const params: unknown[] = []
  if (after !== null) {
    where.push(`${c} > ?`)
    params.push(after)
  }
  if (upTo !== null) {
    where.push(`${c} <= ?`)
    params.push(upTo)
  }
  const inner = `SELECT ${c} AS k FROM ${qid(col.table)} WHERE ${where.join(' AND ')} ORDER BY ${c} LIMIT ?`
  const rows = await sql.query<{n: unknown; last: unknown; ks: unknown}>(`SELECT COUNT(*) AS n, MAX(s.k) AS last, GROUP_CONCAT(s.k SEPARATOR '${SEP}') AS ks FROM (${inner}) s`, [...params, limit])
  const n = Number(rows[0]?.n ?? 0)
  if (n === 0) return {keys: [], last: null}
  const packed = rows[0].ks === null || rows[0].ks === undefined ? '' : String(rows[0].ks)
  const keys = packed.split(SEP)
  // A key holding the separator, or a page longer than group_concat_max_len: read the same page row by row.
  if (keys.length !== n) {
    const plain = await sql.query<{k: unknown}>(inner, [...params, limit])
    return {keys: plain.map((r) => String(r.k)), last: String(plain.at(-1)!.k)}
  }
  return {keys, last: String(rows[0].last)}
}

/** Every key of a column in (after, upTo], page by page. */
async function eachKey(sql: SqlExecutor, col: KeyColumn, after: string | null, upTo: string | null, limit: number, visit: (key: string) => void): Promise<void> {
  let cursor = after
  for (;;) {
    const page = await keyPage(sql, col, cursor, upTo, limit)
    for (const key of page.keys) visit(key)
    if (page.keys.length < limit) return
    cursor = page.last
  }
}

export interface MergeColumns {
  outbox: KeyColumn
  /** orders' message id column: order_without_message, and the no-order half of orphan_consumed. */
  orders?: KeyColumn
  /** inbox's message id column: sent_not_consumed and orphan_consumed. */
  inbox?: KeyColumn
}

/** Keys without a partner in one range: candidates, to be checked against each check's SQL condition. */
export interface MergeCandidates {
  /** orders.messageId values with no outbox row. */
  ordersWithoutMessage: string[]
  /** outbox ids with no inbox record. */
  unconsumed: string[]
  /** inbox message ids with no outbox row, or whose order does not exist. */
  orphans: string[]
}

const IN_ORDERS = 1
const IN_INBOX = 2

/**
 * One pass over the outbox ids in pages of `limit`; each page's range (previous last id, this last id] is also read
 * from orders and inbox (the last range is open-ended), and the three key sets are compared. Memory holds one
 * outbox page, one page of each partner and the candidates of one range.
 *
 * | key in outbox | in orders | in inbox | candidate of                                   |
 * | ------------- | --------- | -------- | ---------------------------------------------- |
 * | no            | yes       | -        | ordersWithoutMessage                           |
 * | no            | -         | yes      | orphans (no outbox row)                        |
 * | yes           | -         | no       | unconsumed                                     |
 * | yes           | no        | yes      | orphans (no order), when orders are compared   |
 */
export async function* mergeKeys(sql: SqlPort, cols: MergeColumns, limit: number, signal?: AbortSignal): AsyncGenerator<MergeCandidates> {
  // The next outbox page is read while this range's partners are compared; a failure is awaited with it.
  const nextPage = (after: string | null) => {
    const page = keyPage(sql, cols.outbox, after, null, limit)
    page.catch(() => {})
    return page
  }
  let after: string | null = null
  let ahead = nextPage(null)
  for (;;) {
    throwIfAborted(signal)
    const page = await ahead
    const full = page.keys.length === limit
    const upTo = full ? page.last : null
    if (full) ahead = nextPage(page.last)
    const flags = new Map<string, number>()
    for (const key of page.keys) flags.set(key, 0)
    const out: MergeCandidates = {ordersWithoutMessage: [], unconsumed: [], orphans: []}
    // A partner key in this outbox page marks it; one outside it has no outbox row.
    const probe = (col: KeyColumn | undefined, mark: number, missing: string[]) =>
      col
        ? eachKey(sql, col, after, upTo, limit, (key) => {
            const f = flags.get(key)
            if (f === undefined) missing.push(key)
            else flags.set(key, f | mark)
          })
        : undefined
    await Promise.all([probe(cols.orders, IN_ORDERS, out.ordersWithoutMessage), probe(cols.inbox, IN_INBOX, out.orphans)])
    if (cols.inbox)
      for (const [key, f] of flags) {
        if ((f & IN_INBOX) === 0) out.unconsumed.push(key)
        else if (cols.orders && (f & IN_ORDERS) === 0) out.orphans.push(key)
      }
    yield out
    if (!full) return
    after = page.last
  }
}
