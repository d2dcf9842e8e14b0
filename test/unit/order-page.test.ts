import {describe, expect, it} from 'vitest'

import {NULL_UNIT, OrderPage, possiblyCut, RECORD, UNIT} from '../../src/core/reconcile/packed-page.js'

/** What GROUP_CONCAT(id, IF(status IS NULL, NULL_UNIT, UNIT), IFNULL(status, '') SEPARATOR RECORD) gives, and the count. */
function concat(orders: [string, string | null][]): [string, number] {
  return [orders.map(([id, status]) => (status === null ? `${id}${NULL_UNIT}` : `${id}${UNIT}${status}`)).join(RECORD), orders.length]
}

const contents = (page: OrderPage) => Array.from({length: page.count}, (_x, n) => [page.id(n), page.status(n)])

describe('OrderPage', () => {
  it('unpacks ids and statuses, NULL statuses, empty ids and statuses, characters beyond ASCII and the BMP, one order, none', () => {
    const cases: [string, string | null][][] = [
      [
        ['o1', 'paid'],
        ['o2', null],
        ['', ''],
        ['o4', '='],
        ['o5', '!'],
        ['payé', 'expédié'],
        ['o😀', 'paid😀'],
        ['o8', null],
      ],
      [['only', 'paid']],
      [['only', null]],
      [['only', '']],
      [],
    ]
    for (const orders of cases) {
      const page = OrderPage.packed(...concat(orders))
      expect(page && contents(page)).toEqual(orders)
    }
  })

  it('refuses a text it cannot unpack exactly: separators inside an id or a status, a text cut between orders', () => {
    const refused: [string, string | null][][] = [
      [[`o${UNIT}1`, 'paid']],
      [[`o${UNIT}1`, null]],
      [[`o${NULL_UNIT}1`, 'paid']],
      [[`o${NULL_UNIT}1`, null]],
      [['o1', `pa${UNIT}id`]],
      [['o1', `pa${NULL_UNIT}id`]],
      [[`o${RECORD}1`, 'paid'], ['o2', 'paid']],
      [['o1', `pa${RECORD}id`], ['o2', 'paid']],
      [['o1', `paid${RECORD}o3${UNIT}x`], ['o2', 'paid']],
      [['o1', `paid${RECORD}o3${NULL_UNIT}`], ['o2', null]],
    ]
    for (const orders of refused) expect(OrderPage.packed(...concat(orders))).toBeNull()
    const [text, count] = concat([['o1', 'paid'], ['o2', 'paid']])
    expect(OrderPage.packed(text.slice(0, text.indexOf(RECORD)), count)).toBeNull()
    expect(OrderPage.packed(text, count + 1)).toBeNull()
    expect(OrderPage.packed(text, count - 1)).toBeNull()
    expect(OrderPage.packed('', 0)?.count).toBe(0)
    expect(OrderPage.packed('x', 0)).toBeNull()
  })

  it('possiblyCut: only a text of (nearly) group_concat_max_len bytes, counted in UTF-8', () => {
    expect(possiblyCut('a'.repeat(100), 1024)).toBe(false)
    expect(possiblyCut('a'.repeat(1020), 1024)).toBe(true)
    expect(possiblyCut('a'.repeat(1019), 1024)).toBe(false)
    // é is 2 bytes, € 3: counted in bytes, not characters.
    expect(possiblyCut('é'.repeat(510), 1024)).toBe(true)
    expect(possiblyCut('é'.repeat(509), 1024)).toBe(false)
    expect(possiblyCut('€'.repeat(340), 1024)).toBe(true)
    expect(possiblyCut('€'.repeat(339), 1024)).toBe(false)
    expect(possiblyCut('x', Number.NaN)).toBe(true)
  })

  it('of() packs separate strings the same way; statusIs compares in place', () => {
    const page = OrderPage.of(['a', 'bb', 'c'], ['paid', null, 'pa'])
    expect(contents(page)).toEqual([['a', 'paid'], ['bb', null], ['c', 'pa']])
    expect(page.statusIs(0, 'paid')).toBe(true)
    expect(page.statusIs(0, 'pai')).toBe(false)
    expect(page.statusIs(2, 'paid')).toBe(false)
    expect(page.statusIs(1, '')).toBe(false)
  })
})
