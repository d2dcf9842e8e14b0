import type {SqlExecutor} from '../ports.js'
import {tableStats} from '../introspect.js'
import {qid} from '../sql.js'
import {middleKey} from './cut.js'
import {type Fragment, fragment} from './scan.js'

/**
 * Key ranges: what a part (--part I/N) and a chunk of a run read. Each table a check starts from is restricted on its
 * key column (orders.id, outbox.id, inbox.messageId); outbox ids and inbox message ids share one key space (the same
 * cuts) when they compare alike, as the merge needs. A finding belongs to exactly one range of a cut, so the parts'
 * findings add up to a whole run's.
 */

/** (after, upTo] of a key column; null: no bound on that side. `nulls`: rows whose key is NULL belong here (the first range). */
export interface KeyRange {
  after: string | null
  upTo: string | null
  nulls: boolean
  /** The keys are integers: bounds are compared as numbers. */
  numeric?: boolean
}

export type KeyRole = 'orders' | 'outbox' | 'inbox'

/** The range of each table's key column; a table not named is read whole. */
export type KeyRanges = Partial<Record<KeyRole, KeyRange>>

export const WHOLE: KeyRange = {after: null, upTo: null, nulls: true}

/** A range that holds no key: a space whose chunks are all done while another's go on. */
export function isEmpty(range: KeyRange | undefined): boolean {
  return range !== undefined && !range.nulls && range.after !== null && range.after === range.upTo
}

/** The bound of a key as a parameter: integers as BigInt (no quoting, no float comparison), text as text. */
export function keyParam(key: string, numeric: boolean): unknown {
  return numeric && /^-?\d+$/.test(key) ? BigInt(key) : key
}

/**
 * The conditions that keep a column's keys in a range.
 *
 * | after | upTo | nulls | condition                                   |
 * | ----- | ---- | ----- | ------------------------------------------- |
 * | -     | -    | yes   | none (the whole column)                     |
 * | -     | -    | no    | col IS NOT NULL                              |
 * | a     | -    | no    | col > a                                      |
 * | -     | u    | no    | col <= u                                     |
 * | a     | u    | no    | col > a AND col <= u                         |
 * | -     | u    | yes   | (col IS NULL OR col <= u)                    |
 * | a     | any  | yes   | (col IS NULL OR (col > a [AND col <= u]))    |
 */
export function rangeWhere(column: string, range: KeyRange | undefined, numeric = range?.numeric ?? false): Fragment[] {
  if (!range) return []
  const bounds: Fragment[] = []
  if (range.after !== null) bounds.push(fragment(`${column} > ?`, keyParam(range.after, numeric)))
  if (range.upTo !== null) bounds.push(fragment(`${column} <= ?`, keyParam(range.upTo, numeric)))
  if (bounds.length === 0) return range.nulls ? [] : [fragment(`${column} IS NOT NULL`)]
  if (!range.nulls) return bounds
  const inner = bounds.map((b) => b.sql).join(' AND ')
  return [{sql: `(${column} IS NULL OR (${inner}))`, params: bounds.flatMap((b) => b.params)}]
}

/**
 * The conditions of rangeWhere for MIN/MAX of the range's keys: those skip NULLs, so the bounds alone, and none for a
 * whole column. `col IS NOT NULL` on a NOT NULL key turned MariaDB 10.11's MIN/MAX dive into a full index scan
 * (1,000,000 orders: 410 ms, the outbox 237 ms, once per chunked run or part; measured).
 *
 * | range                         | condition                  |
 * | ----------------------------- | -------------------------- |
 * | none, or no bound (any nulls) | none                       |
 * | bounds (any nulls)            | the bounds (no IS NULL OR) |
 */
export function endsWhere(column: string, range: KeyRange | undefined, numeric = range?.numeric ?? false): Fragment[] {
  if (!range || (range.after === null && range.upTo === null)) return []
  return rangeWhere(column, {...range, nulls: false}, numeric)
}

/** A key column that is cut: raw names (quoted here), and whether its keys are integers. */
export interface CutColumn {
  table: string
  column: string
  numeric: boolean
}

/** Below this many keys the cuts are exact (one pass over the index); above, they come from the optimizer's estimates. */
export const EXACT_BELOW = 200_000

/** Bisection steps for one cut from the estimates. */
const STEPS = 24

function whereOf(fragments: Fragment[]): {sql: string; params: unknown[]} {
  return {sql: fragments.length === 0 ? '1 = 1' : fragments.map((f) => f.sql).join(' AND '), params: fragments.flatMap((f) => f.params)}
}

/** The optimizer's estimate of the keys in a range: the index dives of EXPLAIN (records_in_range), no row read. */
async function estimate(sql: SqlExecutor, col: CutColumn, after: string | null, upTo: string | null): Promise<number> {
  const where = whereOf(rangeWhere(qid(col.column), {after, upTo, nulls: false}, col.numeric))
  const rows = await sql.query<{rows: unknown}>(`EXPLAIN SELECT ${qid(col.column)} FROM ${qid(col.table)} WHERE ${where.sql}`, where.params)
  return Number(rows[0]?.rows ?? 0)
}

/** The key at `offset` (0-based) in (after, upTo] in index order, or null past the end; `atLeast` keeps it at or above a key too. */
export async function keyAt(sql: SqlExecutor, col: CutColumn, after: string | null, upTo: string | null, offset: number, atLeast: string[] = []): Promise<string | null> {
  const c = qid(col.column)
  const fragments = rangeWhere(c, {after, upTo, nulls: false}, col.numeric)
  for (const key of atLeast) fragments.push(fragment(`${c} >= ?`, keyParam(key, col.numeric)))
  const where = whereOf(fragments)
  const rows = await sql.query<{k: unknown}>(`SELECT ${c} AS k FROM ${qid(col.table)} WHERE ${where.sql} ORDER BY ${c} LIMIT 1 OFFSET ${Math.max(0, Math.floor(offset))}`, where.params)
  return rows.length === 0 ? null : String(rows[0].k)
}

/** The lowest and highest keys of (after, upTo]. */
async function rangeEnds(sql: SqlExecutor, col: CutColumn, after: string | null, upTo: string | null): Promise<{lo: string | null; hi: string | null}> {
  const c = qid(col.column)
  const where = whereOf(endsWhere(c, {after, upTo, nulls: false}, col.numeric))
  const [row] = await sql.query<{lo: unknown; hi: unknown}>(`SELECT MIN(${c}) AS lo, MAX(${c}) AS hi FROM ${qid(col.table)} WHERE ${where.sql}`, where.params)
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v))
  return {lo: text(row?.lo), hi: text(row?.hi)}
}

/**
 * The N-1 keys that cut a column into N parts of about equal size, from the index's statistics, in ascending order.
 * A small column (under EXACT_BELOW keys) is cut at exact positions in one pass over its index. A large one gets a
 * grid of key-space points between MIN and MAX (middle keys, at least 4 cells per part), the optimizer's estimate of
 * the keys of each cell (EXPLAIN's rows: index dives, no row read), and each cut bisected inside the cell where the
 * running total reaches its share, then moved onto the first real key at or after it. Cells, not prefixes: InnoDB
 * caps the estimate of a range at half the table and is off by 2× on long ones (measured), close on short ones. MIN
 * and MAX alone would give equal parts only for keys spread evenly, which time-ordered or hashed ids are not. Equal
 * cuts make an empty part, never a gap.
 */
export async function cutKeys(sql: SqlExecutor, col: CutColumn, parts: number): Promise<string[]> {
  if (parts <= 1) return []
  const n = await keysBelow(sql, col)
  if (n === 0) return Array.from({length: parts - 1}, () => (col.numeric ? '0' : ''))
  const cuts: string[] = []
  if (n < EXACT_BELOW) {
    // ceil(n·i/N) ≥ 1 keys at or below cut i; a part that gets no key (more parts than keys) repeats the cut before it.
    let after: string | null = null
    let at = 0
    for (let i = 1; i < parts; i++) {
      const next = Math.ceil((n * i) / parts)
      if (next > at) {
        after = (await keyAt(sql, col, after, null, next - at - 1)) ?? after
        at = next
      }
      cuts.push(after!)
    }
    return cuts
  }
  const {lo, hi} = await rangeEnds(sql, col, null, null)
  const cells = await estimatedCells(sql, col, lo!, hi!, parts)
  const total = cells.reduce((sum, c) => sum + c.rows, 0)
  let cell = 0
  let before = 0
  for (let i = 1; i < parts; i++) {
    const target = (total * i) / parts
    while (cell < cells.length - 1 && before + cells[cell].rows < target) before += cells[cell++].rows
    cuts.push(await cutInCell(sql, col, cells[cell].after, cells[cell].upTo, target - before, cells[cell].after ?? lo!, cuts.at(-1)))
  }
  return cuts
}

/** A range of the key space with the optimizer's estimate of its keys. */
interface Cell {
  after: string | null
  upTo: string
  rows: number
}

/**
 * The key space from lo to hi as cells of at most about 1/(8N) of the table each, by halving (middleKey) every cell
 * estimated larger, within a budget of EXPLAINs; a cell that cannot be halved (one key, keys with a long common
 * prefix past middleKey's reach) stays as it is.
 */
async function estimatedCells(sql: SqlExecutor, col: CutColumn, lo: string, hi: string, parts: number): Promise<Cell[]> {
  const [stats] = await tableStats(sql, [col.table])
  const limit = Math.max(64, (stats?.rows ?? 0) / (parts * 8))
  let budget = Math.min(4000, 200 + parts * 40)
  let cells: Cell[] = [{after: null, upTo: hi, rows: await estimate(sql, col, null, hi)}]
  for (;;) {
    const next: Cell[] = []
    let split = false
    for (const cell of cells) {
      const mid = cell.rows > limit && budget > 0 ? middleKey(cell.after ?? lo, cell.upTo, col.numeric) : null
      if (mid === null || mid === cell.after || mid === cell.upTo || (cell.after === null && mid === lo)) {
        next.push(cell)
        continue
      }
      budget -= 2
      const [left, right] = await Promise.all([estimate(sql, col, cell.after, mid), estimate(sql, col, mid, cell.upTo)])
      next.push({after: cell.after, upTo: mid, rows: left}, {after: mid, upTo: cell.upTo, rows: right})
      split = true
    }
    cells = next
    if (!split || budget <= 0) return cells
  }
}

/** `count` + 1 points from lo to hi splitting the key space into cells by middle keys (fewer when it cannot be cut finer). */
export function gridPoints(lo: string, hi: string, numeric: boolean, count: number): string[] {
  let points = [lo, hi]
  while (points.length - 1 < count) {
    const next = [points[0]]
    for (let i = 1; i < points.length; i++) {
      const mid = middleKey(points[i - 1], points[i], numeric)
      if (mid !== null && mid !== points[i - 1] && mid !== points[i]) next.push(mid)
      next.push(points[i])
    }
    if (next.length === points.length) break
    points = next
  }
  return points
}

/** A key of (after, upTo] with about `want` keys of the range at or below it, by bisection on the estimates, moved onto a real key. */
async function cutInCell(sql: SqlExecutor, col: CutColumn, after: string | null, upTo: string, want: number, lowest: string, previous: string | undefined): Promise<string> {
  let below: string | null = after ?? lowest
  let above = upTo
  let best = upTo
  for (let step = 0; step < STEPS && below !== null; step++) {
    const mid = middleKey(below, above, col.numeric)
    if (mid === null || mid === below || mid === above) break
    const rows = await estimate(sql, col, after, mid)
    best = mid
    if (Math.abs(rows - want) <= Math.max(1, want * 0.01)) break
    if (rows < want) below = mid
    else above = mid
  }
  // The first real key at or after the cut, inside the range and never below the cut before (a collation may order a middle key elsewhere).
  const floor = previous === undefined ? [best] : [best, previous]
  return (await keyAt(sql, col, after, upTo, 0, floor)) ?? (await keyAt(sql, col, null, null, 0, floor)) ?? previous ?? upTo
}

/**
 * The keys of a column, counted when there are fewer than EXACT_BELOW, else EXACT_BELOW: the table's own statistics
 * (TABLE_ROWS) tell first, so that a large table costs no count (a part paid 3 × 200,000 index reads for it, measured).
 */
async function keysBelow(sql: SqlExecutor, col: CutColumn): Promise<number> {
  const [stats] = await tableStats(sql, [col.table])
  if ((stats?.rows ?? 0) >= EXACT_BELOW * 2) return EXACT_BELOW
  const [counted] = await sql.query<{n: unknown}>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${qid(col.table)} WHERE ${qid(col.column)} IS NOT NULL LIMIT ${EXACT_BELOW}) s`)
  return Number(counted?.n ?? 0)
}

/** Whether a column is small enough to be cut and chunked at exact positions (see EXACT_BELOW). */
export async function isSmall(sql: SqlExecutor, col: CutColumn): Promise<boolean> {
  return (await keysBelow(sql, col)) < EXACT_BELOW
}

/**
 * The upper end of the next chunk of (after, upTo]: about `size` keys on. A small column counts them (an index read of
 * `size` keys); a large one bisects on the optimizer's estimates, as cutKeys does, so that a chunk's end costs a few
 * index dives and not a read of the rows it spans (the outbox's clustered index holds the payloads). Returns upTo
 * (null: the end) when the rest is smaller than a chunk.
 */
export async function chunkEnd(sql: SqlExecutor, col: CutColumn, after: string | null, upTo: string | null, size: number, small: boolean): Promise<string | null> {
  if (small) return (await keyAt(sql, col, after, upTo, size - 1)) ?? upTo
  if ((await estimate(sql, col, after, upTo)) <= size) return upTo
  const {lo, hi} = await rangeEnds(sql, col, after, upTo)
  if (lo === null || hi === null) return upTo
  let below = after ?? lo
  let above = hi
  let best: string | null = null
  for (let step = 0; step < STEPS; step++) {
    const mid = middleKey(below, above, col.numeric)
    if (mid === null || mid === below || mid === above) break
    const rows = await estimate(sql, col, after, mid)
    best = mid
    if (Math.abs(rows - size) <= size * 0.1) break
    if (rows < size) below = mid
    else above = mid
  }
  if (best === null) return upTo
  return (await keyAt(sql, col, after, upTo, 0, [best])) ?? upTo
}
