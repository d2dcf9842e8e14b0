import type {SqlExecutor, SqlPort} from '../ports.js'
import {qid} from '../sql.js'
import {type ScanSpec, splitAt, throwIfAborted, uncutText} from './scan.js'

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

/** What information_schema says about a key column. */
export interface KeyColumnInfo {
  dataType: string
  collation: string | null
  /** The column leads an index, so reading it in order is a range scan and not a sort. */
  indexed: boolean
  /** See narrowIndex. */
  narrow: string | null
}

/** One column of one index, as information_schema.STATISTICS lists it. */
export interface IndexColumn {
  index: string
  seq: number
  column: string
  /** A prefix index's length: such an index holds no whole key. */
  subPart: number | null
}

/** An information_schema.STATISTICS row as an IndexColumn. */
export function indexColumn(index: unknown, seq: unknown, column: unknown, subPart: unknown): IndexColumn {
  return {index: String(index), seq: Number(seq), column: String(column), subPart: subPart === null || subPart === undefined ? null : Number(subPart)}
}

const leadsWhole = (column: string) => (c: IndexColumn) => c.seq === 1 && c.column.toLowerCase() === column.toLowerCase() && c.subPart === null

/** The column (whole) is the first of the primary key: the rows themselves are stored in its order. */
export function leadsPrimaryKey(columns: IndexColumn[], column: string): boolean {
  return columns.some((c) => c.index === 'PRIMARY' && leadsWhole(column)(c))
}

/**
 * The secondary index to read a key column from. InnoDB stores the rows in the primary key, so reading a column that
 * leads it reads every row (the outbox's payload too: 112 MB for a million bench rows, 0.8 s); a secondary index
 * that starts with the column holds only the column and the primary key (18 MB, 0.3 s). MariaDB picks the primary key
 * for a range on it even then, hence the hint.
 *
 * | column leads the PRIMARY key | secondary index led by the whole column | index                               |
 * | ---------------------------- | --------------------------------------- | ----------------------------------- |
 * | yes                          | one or more                             | the one with fewest columns (then by name) |
 * | yes                          | none (or only a prefix index)           | null: the primary key is read       |
 * | no                           | any                                     | null: the optimizer reads the secondary index already |
 */
export function narrowIndex(columns: IndexColumn[], column: string): string | null {
  const leads = leadsWhole(column)
  if (!leadsPrimaryKey(columns, column)) return null
  const width = (index: string) => columns.filter((c) => c.index === index).length
  const candidates = columns.filter((c) => c.index !== 'PRIMARY' && leads(c)).map((c) => c.index)
  candidates.sort((a, b) => width(a) - width(b) || (a < b ? -1 : a > b ? 1 : 0))
  return candidates[0] ?? null
}

export const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'])
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

/** Reads type, collation and whether an index starts with the column, for each key column. */
export async function keyColumnInfo(sql: SqlPort, columns: KeyColumn[]): Promise<KeyColumnInfo[]> {
  const info = await sql.query<{t: string; c: string; dt: string; coll: string | null}>(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS dt, COLLATION_NAME AS coll FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [columns.map((c) => c.table)],
  )
  const stats = await sql.query<{t: string; i: string; seq: unknown; c: string; sub: unknown}>(
    'SELECT TABLE_NAME AS t, INDEX_NAME AS i, SEQ_IN_INDEX AS seq, COLUMN_NAME AS c, SUB_PART AS sub FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [columns.map((c) => c.table)],
  )
  const same = (a: {t: string; c: string}, k: KeyColumn) => String(a.t).toLowerCase() === k.table.toLowerCase() && String(a.c).toLowerCase() === k.column.toLowerCase()
  return columns.map((k) => {
    const row = info.find((r) => same(r, k))
    const indexes: IndexColumn[] = stats
      .filter((r) => String(r.t).toLowerCase() === k.table.toLowerCase())
      .map((r) => indexColumn(r.i, r.seq, r.c, r.sub))
    return {
      dataType: String(row?.dt ?? 'unknown'),
      collation: row?.coll ?? null,
      indexed: stats.some((r) => Number(r.seq) === 1 && same(r, k)),
      narrow: narrowIndex(indexes, k.column),
    }
  })
}

/** Separates the keys of a packed page: a control character no real key holds; a page where it does is read row by row. */
const SEP = '\u001E'

/** Keys compared at once while two pages walk in step. */
const RUN = 64

/** Searches of a packed page's text before it gets an index of its keys. */
const SEARCHES_BEFORE_INDEX = 32

/**
 * The keys of one page as they came: packed in one string (`text`, key n from start[n] to end[n]), so that a million
 * keys cost a few strings and no object each. Keys are compared in place and sliced out only when they are reported.
 */
export class KeyPage {
  private index?: Map<string, number>
  private hay?: string
  private searches = 0

  private constructor(
    private readonly text: string,
    private readonly start: Int32Array,
    private readonly end: Int32Array,
    /** The text holds SEP between keys (and no key holds SEP), so a key can be searched for in it. */
    private readonly separated: boolean,
  ) {}

  /**
   * The keys of a packed text, or null when it is not `count` keys: a key holding SEP, or a text cut between keys by
   * group_concat_max_len. A text cut inside its last key looks whole: the caller checks its length (possiblyCut).
   */
  static packed(text: string, count: number): KeyPage | null {
    if (count === 0) return text === '' ? KeyPage.of([]) : null
    const start = new Int32Array(count)
    const end = new Int32Array(count)
    let from = 0
    for (let n = 0; n < count; n++) {
      const stop = text.indexOf(SEP, from)
      if ((stop < 0) !== (n === count - 1)) return null
      start[n] = from
      end[n] = stop < 0 ? text.length : stop
      from = stop + 1
    }
    return new KeyPage(text, start, end, true)
  }

  static of(keys: string[]): KeyPage {
    const start = new Int32Array(keys.length)
    const end = new Int32Array(keys.length)
    let at = 0
    for (const [n, key] of keys.entries()) {
      start[n] = at
      at += key.length
      end[n] = at
    }
    return new KeyPage(keys.join(''), start, end, false)
  }

  get count(): number {
    return this.start.length
  }

  key(n: number): string {
    return this.text.slice(this.start[n], this.end[n])
  }

  /** Key n of this page and key m of the other are the same string (V8 compares substrings faster than a loop of charCodeAt). */
  same(n: number, other: KeyPage, m: number): boolean {
    const a = this.start[n]
    const b = other.start[m]
    const length = this.end[n] - a
    return length === other.end[m] - b && this.text.substring(a, a + length) === other.text.substring(b, b + length)
  }

  /**
   * Keys n.. n+count-1 of this page and m.. m+count-1 of the other are the same strings, compared as one piece of
   * text: only when both are packed with SEP, which no key holds, so that equal text means equal keys one by one.
   */
  sameRun(n: number, other: KeyPage, m: number, count: number): boolean {
    if (!this.separated || !other.separated) return false
    const a = this.start[n]
    const b = other.start[m]
    const length = other.end[m + count - 1] - b
    return this.end[n + count - 1] - a === length && this.text.substring(a, a + length) === other.text.substring(b, b + length)
  }

  /**
   * The position of a key equal to this one, or -1; `near` is where to look first (the walk's position). A page
   * searched many times (a run of keys it does not hold, as orphans after the last outbox id are) gets an index.
   */
  find(key: string, near = 0): number {
    if (!this.separated || ++this.searches > SEARCHES_BEFORE_INDEX) {
      if (!this.index) {
        this.index = new Map()
        for (let n = this.count - 1; n >= 0; n--) this.index.set(this.key(n), n)
      }
      return this.index.get(key) ?? -1
    }
    this.hay ??= SEP + this.text + SEP
    // In hay, key n starts at start[n] + 1, just after its leading SEP: search onwards from the walk, then back.
    const needle = SEP + key + SEP
    const from = near < this.count ? this.start[near] : this.text.length + 1
    let at = this.hay.indexOf(needle, from)
    // Back from there: a forward search of the part before (lastIndexOf does not search as fast).
    if (at < 0 && from > 0) at = this.hay.slice(0, from + needle.length - 1).indexOf(needle)
    if (at < 0) return -1
    // The key starting at text offset `at`: a binary search over the start offsets.
    let lo = 0
    let hi = this.count - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.start[mid] < at) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/**
 * Marks (bit `bit` of `marks`) the keys of `base` that `other` holds and adds to `missing` those of `other` that base
 * does not hold: a set comparison by exact string equality, in one linear walk when both come in the same order, as
 * keys of one collation read in index order do. `from` is where the walk stands in base (a range's partner keys may
 * come in several pages); returns where it stopped.
 *
 * | at base key i, other key j         | then                                                                  |
 * | ---------------------------------- | --------------------------------------------------------------------- |
 * | the next RUN keys equal, as text   | mark them; i and j move RUN on                                        |
 * | equal                              | mark i; next i, next j                                                |
 * | j equals base key i - 1            | a duplicate (one message, several consumers): next j                 |
 * | j found further on in base, at t   | base i..t-1 have no partner in other; mark t; next j, i = t + 1       |
 * | j found earlier in base, at t < i  | out of step (keys equal under the collation sort as ties): mark t     |
 * | j not in base                      | j is missing                                                          |
 */
export function matchKeys(base: KeyPage, marks: Uint8Array, bit: number, other: KeyPage, missing: string[], from = 0): number {
  let i = from
  // After a run that did not compare equal, key by key until past it.
  let singleUntil = 0
  for (let j = 0; j < other.count; j++) {
    if (j >= singleUntil && i + RUN <= base.count && j + RUN <= other.count) {
      if (base.sameRun(i, other, j, RUN)) {
        for (let n = 0; n < RUN; n++) marks[i + n] |= bit
        i += RUN
        j += RUN - 1
        continue
      }
      singleUntil = j + RUN
    }
    if (i < base.count && base.same(i, other, j)) {
      marks[i++] |= bit
      continue
    }
    if (i > 0 && base.same(i - 1, other, j)) continue
    const t = base.find(other.key(j), i)
    if (t < 0) missing.push(other.key(j))
    else {
      marks[t] |= bit
      if (t >= i) i = t + 1
    }
  }
  return i
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
    `SELECT ${packedColumns('s.k')}, MAX(s.k) AS last FROM (${inner}) s`,
    [...params, limit],
  )
  const n = Number(rows[0]?.n ?? 0)
  if (n === 0) return {keys: KeyPage.of([]), last: null}
  const keys = unpack(rows[0])
  if (keys) return {keys, last: String(rows[0].last)}
  // A key holding the separator, or a page longer than group_concat_max_len: the same page row by row.
  const plain = await sql.query<{k: unknown}>(inner, [...params, limit])
  return {keys: KeyPage.of(plain.map((r) => String(r.k))), last: String(plain.at(-1)!.k)}
}

type PackedRow = {n: unknown; ks: unknown; lim: unknown}

/**
 * The columns of a packed row, as unpack reads them: how many keys, the keys, group_concat_max_len (no character
 * count to check the text against: it cost MariaDB a tenth of the page).
 */
function packedColumns(key: string): string {
  return `COUNT(*) AS n, GROUP_CONCAT(${key} SEPARATOR '${SEP}') AS ks, @@group_concat_max_len AS lim`
}

function unpack(row: PackedRow): KeyPage | null {
  const text = uncutText(row.ks, row.lim)
  return text === null ? null : KeyPage.packed(text, Number(row.n))
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
  const first = sql.query<PackedRow>(`SELECT ${packedColumns(c)} FROM ${from(col)} WHERE ${where}`, params)
  // Awaited by the walk; marked handled now in case the walk never starts (an abort, a failure elsewhere).
  first.catch(() => {})
  return (async function* () {
    const rows = await first
    if (Number(rows[0]?.n ?? 0) === 0) return
    const all = unpack(rows[0])
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

/** Code units are taken as digits below the surrogates, so that a middle key is valid UTF-16. */
const DIGIT = 0xd800n

/**
 * A key between two keys, to cut a column's key space in two halves that are merged side by side. Any key would
 * give the same findings (each half is a range the database cuts); this one only aims at halves of similar size:
 * the numeric middle of integer keys, or the middle of the first four characters after the common prefix of text
 * keys. Null when there is nothing to cut (an empty column, one key, keys that are not numbers when they should be).
 */
export function middleKey(lo: string | null, hi: string | null, numeric: boolean): string | null {
  if (lo === null || hi === null || lo === hi) return null
  if (numeric) {
    if (!/^-?\d+$/.test(lo) || !/^-?\d+$/.test(hi)) return null
    return ((BigInt(lo) + BigInt(hi)) / 2n).toString()
  }
  let prefix = 0
  while (prefix < lo.length && prefix < hi.length && lo[prefix] === hi[prefix]) prefix++
  const value = (s: string) => {
    let v = 0n
    for (let n = 0; n < 4; n++) v = v * DIGIT + BigInt(Math.min(s.charCodeAt(prefix + n) || 0, 0xd7ff))
    return v
  }
  let mid = (value(lo) + value(hi)) / 2n
  const digits: number[] = []
  for (let n = 0; n < 4; n++) {
    digits.unshift(Number(mid % DIGIT))
    mid /= DIGIT
  }
  while (digits.length > 0 && digits.at(-1) === 0) digits.pop()
  return lo.slice(0, prefix) + String.fromCharCode(...digits)
}

/** A column's lowest and highest keys as text, and whether to cut between them as numbers. */
export interface KeyEnds {
  lo: string | null
  hi: string | null
  numeric: boolean
}

/**
 * A column's MIN and MAX, to cut its keys in ranges read side by side. `numeric: 'guess'` takes integers (a BIGINT
 * comes as a string) for numbers, so that the ranges are even.
 */
export async function keyEnds(sql: SqlExecutor, from: string, column: string, numeric: boolean | 'guess'): Promise<KeyEnds> {
  const [ends] = await sql.query<{lo: unknown; hi: unknown}>(`SELECT MIN(${column}) AS lo, MAX(${column}) AS hi FROM ${from}`)
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v))
  const integer = (v: unknown) => typeof v === 'number' || (typeof v === 'string' && /^(-?[1-9]\d*|0)$/.test(v))
  return {lo: text(ends?.lo), hi: text(ends?.hi), numeric: numeric === 'guess' ? integer(ends?.lo) && integer(ends?.hi) : numeric}
}

/**
 * A scan cut into `parts` (a power of two) scans of key ranges around middleKey cuts. Each cut is added to the part it
 * cuts (key <= cut, key > cut), so the parts split the keys whole whatever order the collation gives the cuts; fewer
 * parts when there is nothing to cut.
 */
export function splitScan(spec: ScanSpec, ends: KeyEnds, parts: number): ScanSpec[] {
  const cut = parts > 1 ? middleKey(ends.lo, ends.hi, ends.numeric) : null
  // A cut at the lowest key leaves the upper part with the same ends, to be cut there again for nothing.
  if (cut === null || cut === ends.lo) return [spec]
  const [low, high] = splitAt(spec, cut)
  return [...splitScan(low, {...ends, hi: cut}, parts / 2), ...splitScan(high, {...ends, lo: cut}, parts / 2)]
}

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
  const ends = await keyEnds(sql, qid(cols.outbox.table), qid(cols.outbox.column), cols.numeric === true)
  const cut = middleKey(ends.lo, ends.hi, ends.numeric)
  await (cut === null ? half(null, null) : Promise.all([half(null, cut), half(cut, null)]))
}
