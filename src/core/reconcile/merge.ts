import {INTEGER_TYPES} from '../introspect.js'
import type {SqlExecutor, SqlPort} from '../ports.js'
import {qid} from '../sql.js'
import type {KeyColumnInfo} from '../introspect.js'
import {keyEnds, middleKey} from './cut.js'
import {KeyPage, packedKeys, type PackedRow, unpackKeys} from './packed-page.js'
import {type CutColumn, endsWhere, keyAt, type KeyRange, rangeWhere} from './ranges.js'
import {throwIfAborted} from './scan.js'
import {matchKeys} from './walk.js'

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
  /** A secondary index to read the column from (FORCE INDEX), when the optimizer would read the clustered one. */
  index?: string
}

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
export function keysMergeable(columns: Omit<KeyColumnInfo, 'narrow'>[]): boolean {
  if (columns.length === 0 || columns.some((c) => !c.indexed)) return false
  const types = columns.map((c) => c.dataType.toLowerCase())
  if (types.every((t) => INTEGER_TYPES.has(t))) return true
  return types.every((t) => TEXT.has(t)) && new Set(columns.map((c) => c.collation)).size === 1
}

/**
 * The next keys of a column in its index order, after `after` (exclusive) and up to `upTo` (inclusive), at most `limit`.
 * The page comes back as one row (COUNT, MAX, GROUP_CONCAT): a tenth of the client work of one row per key.
 */
export async function keyPage(sql: SqlExecutor, col: KeyColumn, after: string | null, upTo: string | null, limit: number): Promise<{keys: KeyPage; last: string | null}> {
  const {where, params} = keyRange(col, after, upTo)
  const c = qid(col.column)
  const inner = `SELECT ${c} AS k FROM ${from(col)} WHERE ${where} ORDER BY ${c} LIMIT ?`
  const rows = await sql.query<PackedRow & {last: unknown}>(
    `SELECT ${packedKeys('s.k')}, MAX(s.k) AS last FROM (${inner}) s`,
    [...params, limit],
  )
  const n = Number(rows[0]?.n ?? 0)
  if (n === 0) return {keys: KeyPage.of([]), last: null}
  const keys = unpackKeys(rows[0])
  if (keys) return {keys, last: String(rows[0].last)}
  // A key holding the separator, or a page longer than group_concat_max_len: the same page row by row.
  const plain = await sql.query<{k: unknown}>(inner, [...params, limit])
  return {keys: KeyPage.of(plain.map((r) => String(r.k))), last: String(plain.at(-1)!.k)}
}

/** The table a key column is read from, with its narrow index when it has one. */
function from(col: KeyColumn): string {
  return col.index === undefined ? qid(col.table) : `${qid(col.table)} FORCE INDEX (${qid(col.index)})`
}

function keyRange(col: KeyColumn, after: string | null, upTo: string | null): {where: string; params: unknown[]} {
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
  return {where: where.join(' AND '), params}
}

/**
 * Every key of a column in (after, upTo]. First in one packed row without ORDER BY or LIMIT (a plain index range,
 * a third cheaper for the database than a page; its order only decides how fast matchKeys walks); when that row
 * is cut by group_concat_max_len (a range far denser than the outbox's), page by page. The first query is sent at
 * once, so that a range can be read while the one before it is compared.
 */
function rangeKeys(sql: SqlExecutor, col: KeyColumn, after: string | null, upTo: string | null, limit: number): AsyncIterable<KeyPage> {
  const {where, params} = keyRange(col, after, upTo)
  const c = qid(col.column)
  const first = sql.query<PackedRow>(`SELECT ${packedKeys(c)} FROM ${from(col)} WHERE ${where}`, params)
  // Awaited by the walk; marked handled now in case the walk never starts (an abort, a failure elsewhere).
  first.catch(() => {})
  return (async function* () {
    const rows = await first
    if (Number(rows[0]?.n ?? 0) === 0) return
    const all = unpackKeys(rows[0])
    if (all) {
      yield all
      return
    }
    let cursor = after
    for (;;) {
      const page = await keyPage(sql, col, cursor, upTo, limit)
      yield page.keys
      if (page.keys.count < limit) return
      cursor = page.last
    }
  })()
}

export interface MergeColumns {
  /** The keys are integers (compared as numbers by the database), not text. */
  numeric?: boolean
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
 * One pass over the outbox ids in pages of `limit`, in two halves of the key space side by side (cut by middleKey);
 * each page's range (previous last id, this last id] is also read from orders and inbox (the last range of a half
 * reaches the half's end), and the three key sets are compared. Candidates are handed to `take` after each range,
 * and within a range whenever a list reaches `limit`, one call at a time: memory holds, per half, two ranges (this
 * one and the next, read ahead) of at most `limit` outbox keys and their partners' keys (2 MB of text at most, or a
 * page), and `limit` candidates of each kind, whatever the data.
 *
 * | key in outbox | in orders | in inbox | candidate of                                   |
 * | ------------- | --------- | -------- | ---------------------------------------------- |
 * | no            | yes       | -        | ordersWithoutMessage                           |
 * | no            | -         | yes      | orphans (no outbox row)                        |
 * | yes           | -         | no       | unconsumed                                     |
 * | yes           | no        | yes      | orphans (no order), when orders are compared   |
 */
export async function mergeKeys(
  sql: SqlPort,
  cols: MergeColumns,
  limit: number,
  take: (found: MergeCandidates) => Promise<void>,
  signal?: AbortSignal,
  range?: KeyRange,
): Promise<void> {
  let taking = Promise.resolve()
  const handOver = (found: MergeCandidates) => (taking = taking.then(() => take(found)))
  const none = (): MergeCandidates => ({ordersWithoutMessage: [], unconsumed: [], orphans: []})

  /** The ranges of one half of the key space, (from, to], null meaning no bound. */
  const half = async (from: string | null, to: string | null) => {
    /** The outbox page after `after`, and as soon as it is there, its partners' ranges (read while the range before is compared). */
    const open = (after: string | null) => {
      const range = keyPage(sql, cols.outbox, after, to, limit).then((page) => {
        const full = page.keys.count === limit
        const upTo = full ? page.last : to
        return {
          page,
          full,
          orders: cols.orders ? rangeKeys(sql, cols.orders, after, upTo, limit) : undefined,
          inbox: cols.inbox ? rangeKeys(sql, cols.inbox, after, upTo, limit) : undefined,
        }
      })
      range.catch(() => {})
      return range
    }
    let ahead = open(from)
    for (;;) {
      throwIfAborted(signal)
      const {page, full, orders, inbox} = await ahead
      // Two ranges in flight at most: this one, and the next one's outbox page and partners.
      if (full) ahead = open(page.last)
      const marks = new Uint8Array(page.keys.count)
      const out = none()
      // A partner key in this outbox page marks it; one outside it has no outbox row.
      const walk = async (keys: AsyncIterable<KeyPage> | undefined, bit: number, kind: 'ordersWithoutMessage' | 'orphans') => {
        if (!keys) return
        let at = 0
        for await (const other of keys) {
          at = matchKeys(page.keys, marks, bit, other, out[kind], at)
          if (out[kind].length >= limit) {
            const found = out[kind].splice(0)
            await handOver({...none(), [kind]: found})
          }
        }
      }
      await Promise.all([walk(orders, IN_ORDERS, 'ordersWithoutMessage'), walk(inbox, IN_INBOX, 'orphans')])
      if (cols.inbox)
        for (let n = 0; n < marks.length; n++) {
          if ((marks[n] & IN_INBOX) === 0) out.unconsumed.push(page.keys.key(n))
          else if (cols.orders && (marks[n] & IN_ORDERS) === 0) out.orphans.push(page.keys.key(n))
        }
      await handOver(out)
      if (!full) return
    }
  }

  // Two halves side by side: one chain of pages waits on the database at every step, two keep it busy.
  const from = range?.after ?? null
  const to = range?.upTo ?? null
  const column: CutColumn = {table: cols.outbox.table, column: cols.outbox.column, numeric: cols.numeric === true}
  const ends = await keyEnds(sql, qid(cols.outbox.table), qid(cols.outbox.column), cols.numeric === true, endsWhere(qid(cols.outbox.column), range))
  const middle = middleKey(ends.lo, ends.hi, ends.numeric)
  // Within a range, the halves meet at a real key of it: a middle key could sort outside the range under a collation.
  const cut = middle === null || range === undefined ? middle : await keyAt(sql, column, from, to, 0, [middle])
  await (cut === null || cut === to ? half(from, to) : Promise.all([half(from, cut), half(cut, to)]))
}
