import {InterruptedError} from '../errors.js'
import type {Row, SqlExecutor} from '../ports.js'
import {SQL_TIME_FORMAT} from './window.js'

/**
 * One keyset-paginated read: rows come ordered by (ts, ...keys) and each page starts strictly after the last row
 * of the previous one, so a page costs the same whatever its position and memory holds one page (plus the next,
 * fetched while the caller works on this one).
 */
export interface ScanSpec {
  /** Extra `expr AS name` columns. */
  select: string[]
  /** Parameters of the extra columns, in order. */
  selectParams: unknown[]
  /** FROM clause (tables with aliases, joins). */
  from: string
  where: string[]
  params: unknown[]
  /** Timestamp expression ordering the scan; null when the table has none (then no window applies). */
  ts: string | null
  /** Expressions that, after ts, make the order unique. */
  keys: string[]
  /** Order by the keys alone (ts still bounds the window): one sequential pass when the key is the primary key. */
  byKey?: boolean
  /** With byKey: do not read the time (rows come with _ts null); the caller looks it up for the rows it keeps. */
  untimed?: boolean
}

export interface ScanRow extends Row {
  /** The row's timestamp as the database's DATETIME text, or null. */
  _ts: string | null
  _k0: unknown
}

/** `(a, b, c) > (?, ?, ?)` spelled out, because MariaDB uses an index range for this form and not the row form. */
export function keysetAfter(exprs: string[], values: unknown[]): {sql: string; params: unknown[]} {
  const [head, ...rest] = exprs
  if (rest.length === 0) return {sql: `${head} > ?`, params: [values[0]]}
  const inner = keysetAfter(rest, values.slice(1))
  return {sql: `(${head} > ? OR (${head} = ? AND ${inner.sql}))`, params: [values[0], values[0], ...inner.params]}
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new InterruptedError()
}

export async function* scanPages(sql: SqlExecutor, spec: ScanSpec, batch: number, signal?: AbortSignal): AsyncGenerator<ScanRow[]> {
  const timed = spec.ts !== null && spec.byKey !== true
  const order = [...(timed ? [spec.ts!] : []), ...spec.keys]
  const columns = [
    `${spec.ts && !(spec.untimed && !timed) ? `DATE_FORMAT(${spec.ts}, ${SQL_TIME_FORMAT})` : 'NULL'} AS _ts`,
    ...spec.keys.map((k, n) => `${k} AS _k${n}`),
    ...spec.select,
  ]
  const fetch = (cursor: unknown[] | null): Promise<ScanRow[]> => {
    const where = [...spec.where]
    const params = [...spec.selectParams, ...spec.params]
    if (cursor) {
      const after = keysetAfter(order, cursor)
      where.push(after.sql)
      params.push(...after.params)
    }
    params.push(batch)
    const text = `SELECT ${columns.join(', ')} FROM ${spec.from}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order.join(', ')} LIMIT ?`
    return sql.query<ScanRow>(text, params)
  }
  const cursorOf = (row: ScanRow): unknown[] => [...(timed ? [row._ts] : []), ...spec.keys.map((_k, n) => row[`_k${n}`])]
  // The read ahead may fail while the caller is busy elsewhere: mark it handled now, it is still awaited below.
  const ahead = (cursor: unknown[] | null): Promise<ScanRow[]> => {
    const page = fetch(cursor)
    page.catch(() => {})
    return page
  }
  let pending: Promise<ScanRow[]> | null = ahead(null)
  try {
    while (pending) {
      throwIfAborted(signal)
      const rows: ScanRow[] = await pending
      // The next page is read while the caller works on this one.
      pending = rows.length === batch ? ahead(cursorOf(rows.at(-1)!)) : null
      if (rows.length === 0) break
      yield rows
    }
  } finally {
    // A caller that stops early must not leave a rejected read behind.
    pending?.catch(() => {})
  }
}
