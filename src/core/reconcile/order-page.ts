/** Separates an order's id from its status in a packed page; no real id holds it (a page where one does is read row by row). */
export const UNIT = '\u001F'
/** Ends the id of an order whose status is NULL, in place of UNIT and the status. */
export const NULL_UNIT = '\u001D'
/** Separates the orders of a packed page. */
export const RECORD = '\u001E'

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
