import {cacheKeys} from './key-pattern.js'
import type {CachePort, CacheRead} from './ports.js'
import {OrderPage} from './packed-page.js'
import {type ScanRow, text} from './scan.js'

/**
 * What a cache entry must be compared with, and whether it drifted.
 *
 * | order status | cache            | drift? | detail                       |
 * | ------------ | ---------------- | ------ | ---------------------------- |
 * | S            | missing          | yes    | missing                      |
 * | S            | value S          | no     |                              |
 * | S            | value V ≠ S      | yes    | cache=V db=S                 |
 * | any          | unreadable       | yes    | the reason (wrong type, …)   |
 * |              |                  |        | (a wrong type names its key) |
 * | NULL         | missing          | no     |                              |
 * | NULL         | value V          | yes    | cache=V db=NULL              |
 */
export function cacheDrift(dbStatus: string | null, read: CacheRead): string | null {
  if (read.state === 'invalid') return read.reason
  if (read.state === 'missing') return dbStatus === null ? null : 'missing'
  if (dbStatus !== null && read.value === dbStatus) return null
  return `cache=${clip(read.value)} db=${dbStatus ?? 'NULL'}`
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 39)}…` : text
}

export interface CacheCompared {
  /** The order's place in its page. */
  n: number
  id: string
  key: string
  status: string | null
  read: CacheRead
  drift: string
}

/** A page of scanned rows as orders to compare (the rows updated within the grace period left out), and the rows kept. */
export function ordersOf(rows: ScanRow[]): {page: OrderPage; rows: ScanRow[]} {
  // No settled column: the scan's WHERE already left out the orders updated within the grace period.
  const kept = rows.some((r) => r.settled !== undefined && Number(r.settled) !== 1) ? rows.filter((r) => Number(r.settled) === 1) : rows
  return {page: OrderPage.of(kept.map((r) => String(r._k0)), kept.map((r) => text(r.order_status))), rows: kept}
}

/** Reads the keys of one page of orders in one request and returns the drifted ones. */
export async function compareCache(cache: CachePort, pattern: string, page: OrderPage): Promise<CacheCompared[]> {
  if (page.count === 0) return []
  const reads = await cache.readDiffering(pattern, page)
  // Made only for a page with drift: most pages have none.
  let key: ((id: string) => string) | undefined
  const drifted: CacheCompared[] = []
  for (let n = 0; n < page.count; n++) {
    const read = reads[n]
    // null: the key holds exactly the order's status.
    if (read === null) continue
    const status = page.status(n)
    const drift = cacheDrift(status, read)
    if (drift === null) continue
    key ??= cacheKeys(pattern)
    drifted.push({n, id: page.id(n), key: key(page.id(n)), status, read, drift})
  }
  return drifted
}
