import {describe, expect, it} from 'vitest'

import {NULL, OrderPage, RECORD, UNIT, VALUE} from '../../src/core/reconcile/order-page.js'

/** What GROUP_CONCAT(id, UNIT, IFNULL(CONCAT(VALUE, status), NULL) SEPARATOR RECORD) gives, and its counts as SQL makes them. */
function concat(orders: [string, string | null][]): [string, number, number, number] {
  const text = orders.map(([id, status]) => `${id}${UNIT}${status === null ? NULL : VALUE + status}`).join(RECORD)
  const chars = (s: string) => [...s].length
  return [text, orders.length, orders.reduce((sum, [id]) => sum + chars(id), 0), orders.reduce((sum, [, status]) => sum + (status === null ? 0 : chars(status)), 0)]
}

const contents = (page: OrderPage) => Array.from({length: page.count}, (_x, n) => [page.id(n), page.status(n)])

describe('OrderPage', () => {
  it('unpacks ids and statuses, NULL statuses, empty ids and statuses, one order, none', () => {
    const cases: [string, string | null][][] = [
      [
        ['o1', 'paid'],
        ['o2', null],
        ['', ''],
        ['o4', '='],
        ['o5', '!'],
        ['payé', 'expédié'],
      ],
      [['only', 'paid']],
      [['only', null]],
      [],
    ]
    for (const orders of cases) {
      const page = OrderPage.packed(...concat(orders))
      expect(page && contents(page)).toEqual(orders)
    }
  })

  it('refuses a text it cannot unpack exactly: separators inside an id or a status, a cut text, characters beyond the BMP', () => {
    const refused: [string, string | null][][] = [
      [[`o${UNIT}1`, 'paid']],
      [[`o${UNIT}=1`, 'paid']],
      [['o1', `pa${UNIT}id`]],
      [[`o${RECORD}1`, 'paid'], ['o2', 'paid']],
      [['o1', `pa${RECORD}id`], ['o2', 'paid']],
      [['o1', `paid${RECORD}o3${UNIT}=x`], ['o2', 'paid']],
      [['o😀', 'paid']],
      [['o1', 'paid😀']],
    ]
    for (const orders of refused) expect(OrderPage.packed(...concat(orders))).toBeNull()
    const [text, count, ids, statuses] = concat([['o1', 'paid'], ['o2', 'paid']])
    expect(OrderPage.packed(text.slice(0, -1), count, ids, statuses)).toBeNull()
    expect(OrderPage.packed(text, count + 1, ids, statuses)).toBeNull()
    expect(OrderPage.packed('', 0, 0, 0)?.count).toBe(0)
    expect(OrderPage.packed('x', 0, 0, 0)).toBeNull()
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
