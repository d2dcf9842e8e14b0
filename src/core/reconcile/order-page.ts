/** Separates an order's id from its status in a packed page; no real id holds it (a page where one does is read row by row). */
export const UNIT = '\u001F'
/** Separates the orders of a packed page. */
export const RECORD = '\u001E'
/** Before the status of an order that has one. */
export const VALUE = '='
/** In place of the status of an order whose status is NULL. */
export const NULL = '!'

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
   * The orders of a text packed as `id UNIT (VALUE status | NULL)` joined by RECORD (a GROUP_CONCAT), or null when it
   * is not `count` orders with `idChars` and `statusChars` characters in all: a separator inside an id or a status,
   * a text cut by group_concat_max_len, or characters beyond the BMP (two in JavaScript, one in SQL).
   */
  static packed(text: string, count: number, idChars: number, statusChars: number): OrderPage | null {
    if (count === 0) return text === '' ? OrderPage.of([], []) : null
    if (text.length !== idChars + statusChars + 3 * count - 1) return null
    const idStart = new Int32Array(count)
    const idEnd = new Int32Array(count)
    const statusStart = new Int32Array(count)
    const statusEnd = new Int32Array(count)
    let from = 0
    let unit = text.indexOf(UNIT)
    for (let n = 0; n < count; n++) {
      if (unit < 0) return null
      const stop = text.indexOf(RECORD, unit)
      const end = stop < 0 ? text.length : stop
      // The last order ends the text, every other one a RECORD; an order holds one UNIT, and no RECORD before it.
      if ((stop < 0) !== (n === count - 1) || text.lastIndexOf(RECORD, unit) !== from - 1) return null
      const next = text.indexOf(UNIT, unit + 1)
      if (next >= 0 && next < end) return null
      idStart[n] = from
      idEnd[n] = unit
      const marker = text[unit + 1]
      if (marker === VALUE) {
        statusStart[n] = unit + 2
        statusEnd[n] = end
      } else if (marker === NULL && end === unit + 2) {
        statusStart[n] = -1
        statusEnd[n] = -1
      } else return null
      from = end + 1
      unit = next
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
