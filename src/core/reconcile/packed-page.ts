/**
 * Packed pages: a page of keys (KeyPage) or of orders with their status (OrderPage) read as one row, GROUP_CONCAT of
 * its entries joined by control characters no real key holds (a page where one does is read row by row), and
 * unpacked without an object or a string per entry. The separators, the SQL that packs and the code that unpacks
 * live here together.
 */

/** Separates the entries (keys, orders) of a packed page. */
export const RECORD = '\u001E'
/** Separates an order's id from its status. */
export const UNIT = '\u001F'
/** Ends the id of an order whose status is NULL, in place of UNIT and the status. */
export const NULL_UNIT = '\u001D'

/** A packed row as packedKeys and packedOrders select it: how many entries, their text, group_concat_max_len. */
export type PackedRow = {n: unknown; ks: unknown; lim: unknown}

/**
 * The columns of a packed row of keys (no character count to check the text against: it cost MariaDB a tenth of the
 * page; group_concat_max_len tells instead, see possiblyCut).
 */
export function packedKeys(key: string): string {
  return `COUNT(*) AS n, GROUP_CONCAT(${key} SEPARATOR '${RECORD}') AS ks, @@group_concat_max_len AS lim`
}

/** The columns of a packed row of (id, status) pairs, a NULL status marked by NULL_UNIT. */
export function packedOrders(id: string, status: string): string {
  return `COUNT(*) AS n, GROUP_CONCAT(${id}, IF(${status} IS NULL, '${NULL_UNIT}', '${UNIT}'), IFNULL(${status}, '') SEPARATOR '${RECORD}') AS ks, @@group_concat_max_len AS lim`
}

/** The keys of a packed row, or null when it must be read again row by row (a key holding RECORD, a text maybe cut). */
export function unpackKeys(row: PackedRow): KeyPage | null {
  const text = uncutText(row.ks, row.lim)
  return text === null ? null : KeyPage.packed(text, Number(row.n))
}

/** The orders of a packed row, or null when it must be read again row by row. */
export function unpackOrders(row: PackedRow): OrderPage | null {
  const text = uncutText(row.ks, row.lim)
  return text === null ? null : OrderPage.packed(text, Number(row.n))
}

/**
 * Whether GROUP_CONCAT may have cut a text at `limit` (group_concat_max_len, in bytes): only a text of (nearly) that
 * many bytes can be cut, and a UTF-16 code unit takes at most 3 bytes in UTF-8, so most texts need no count.
 */
export function possiblyCut(text: string, limit: number): boolean {
  if (!Number.isFinite(limit)) return true
  return text.length * 3 >= limit - 4 && Buffer.byteLength(text, 'utf8') >= limit - 4
}

/** A GROUP_CONCAT result as text, or null when group_concat_max_len (`limit`, read in the same row) may have cut it. */
export function uncutText(value: unknown, limit: unknown): string | null {
  const text = value === null || value === undefined ? '' : String(value)
  return possiblyCut(text, Number(limit)) ? null : text
}

/**
 * A page of orders to compare with the cache: ids and statuses packed in one string, so that a million orders cost
 * a few strings and no object each (order n's id is text[idStart[n], idEnd[n]), its status
 * text[statusStart[n], statusEnd[n]), statusStart[n] = -1 for NULL). Strings are sliced out only for findings.
 */
export class OrderPage {
  private constructor(
    readonly text: string,
    readonly idStart: Int32Array,
    readonly idEnd: Int32Array,
    readonly statusStart: Int32Array,
    readonly statusEnd: Int32Array,
  ) {}

  /**
   * The orders of a text packed as `id UNIT status` or `id NULL_UNIT` joined by RECORD (a GROUP_CONCAT), or null when
   * it is not exactly `count` orders each holding one UNIT or NULL_UNIT (a separator inside an id or a status, a text
   * cut between orders). A text cut inside its last status looks whole: the caller checks the length against
   * group_concat_max_len (possiblyCut).
   */
  static packed(text: string, count: number): OrderPage | null {
    if (count === 0) return text === '' ? OrderPage.of([], []) : null
    const idStart = new Int32Array(count)
    const idEnd = new Int32Array(count)
    const statusStart = new Int32Array(count)
    const statusEnd = new Int32Array(count)
    // The next UNIT, NULL_UNIT and RECORD at or after the order being read (NULL_UNIT is rare: found once per use).
    let unit = text.indexOf(UNIT)
    let nul = text.indexOf(NULL_UNIT)
    let record = text.indexOf(RECORD)
    let from = 0
    for (let n = 0; n < count; n++) {
      // The last order ends the text, every other one a RECORD.
      if ((record < 0) !== (n === count - 1)) return null
      const end = record < 0 ? text.length : record
      const u = unit >= 0 && unit < end ? unit : -1
      const z = nul >= 0 && nul < end ? nul : -1
      // One separator per order: none or two means an id or a status holds one.
      if ((u < 0) === (z < 0)) return null
      idStart[n] = from
      if (u >= 0) {
        unit = text.indexOf(UNIT, u + 1)
        if (unit >= 0 && unit < end) return null
        idEnd[n] = u
        statusStart[n] = u + 1
        statusEnd[n] = end
      } else {
        nul = text.indexOf(NULL_UNIT, z + 1)
        if (z + 1 !== end) return null
        idEnd[n] = z
        statusStart[n] = -1
        statusEnd[n] = -1
      }
      from = end + 1
      if (record >= 0) record = text.indexOf(RECORD, from)
    }
    return new OrderPage(text, idStart, idEnd, statusStart, statusEnd)
  }

  /** The orders of separate strings (a scan read row by row), packed the same way. */
  static of(ids: string[], statuses: (string | null)[]): OrderPage {
    const count = ids.length
    const parts: string[] = []
    const idStart = new Int32Array(count)
    const idEnd = new Int32Array(count)
    const statusStart = new Int32Array(count)
    const statusEnd = new Int32Array(count)
    let at = 0
    for (let n = 0; n < count; n++) {
      idStart[n] = at
      at += ids[n].length
      idEnd[n] = at
      parts.push(ids[n])
      const status = statuses[n]
      if (status === null) {
        statusStart[n] = -1
        statusEnd[n] = -1
      } else {
        statusStart[n] = at
        at += status.length
        statusEnd[n] = at
        parts.push(status)
      }
    }
    return new OrderPage(parts.join(''), idStart, idEnd, statusStart, statusEnd)
  }

  get count(): number {
    return this.idStart.length
  }

  id(n: number): string {
    return this.text.slice(this.idStart[n], this.idEnd[n])
  }

  status(n: number): string | null {
    return this.statusStart[n] < 0 ? null : this.text.slice(this.statusStart[n], this.statusEnd[n])
  }

  /** Order n's status is exactly `value` (compared in place). */
  statusIs(n: number, value: string): boolean {
    const start = this.statusStart[n]
    return start >= 0 && this.statusEnd[n] - start === value.length && this.text.startsWith(value, start)
  }
}

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
    /** The text holds RECORD between keys (and no key holds RECORD), so a key can be searched for in it. */
    private readonly separated: boolean,
  ) {}

  /**
   * The keys of a packed text, or null when it is not `count` keys: a key holding RECORD, or a text cut between keys by
   * group_concat_max_len. A text cut inside its last key looks whole: the caller checks its length (possiblyCut).
   */
  static packed(text: string, count: number): KeyPage | null {
    if (count === 0) return text === '' ? KeyPage.of([]) : null
    const start = new Int32Array(count)
    const end = new Int32Array(count)
    let from = 0
    for (let n = 0; n < count; n++) {
      const stop = text.indexOf(RECORD, from)
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
   * text: only when both are packed with RECORD, which no key holds, so that equal text means equal keys one by one.
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
    this.hay ??= RECORD + this.text + RECORD
    // In hay, key n starts at start[n] + 1, just after its leading RECORD: search onwards from the walk, then back.
    const needle = RECORD + key + RECORD
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
