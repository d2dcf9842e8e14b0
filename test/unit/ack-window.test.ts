import {describe, expect, it} from 'vitest'

import {AckWindow, planAcks} from '../../src/adapters/dlq.js'

const NONE = Number.POSITIVE_INFINITY

/** One test per row of planAcks' decision table: which acks a dead-letter reader sends, and when. */
describe('planAcks', () => {
  it('above the lowest held delivery: each waiting tag gets its own ack, never a multiple over the held one', () => {
    expect(planAcks({through: 1, lowestHeld: 2}, [3, 4, 6], false)).toEqual({
      send: [{tag: 3, multiple: false}, {tag: 4, multiple: false}, {tag: 6, multiple: false}],
      state: {through: 1, lowestHeld: 2},
      waiting: [],
    })
  })

  it('below every held one, every delivery from through + 1 waiting: one multiple up to the last of the run', () => {
    expect(planAcks({through: 0, lowestHeld: NONE}, [1, 2, 3, 4], false)).toEqual({send: [{tag: 4, multiple: true}], state: {through: 4, lowestHeld: NONE}, waiting: []})
    // A run of one is a plain ack.
    expect(planAcks({through: 4, lowestHeld: NONE}, [5], false).send).toEqual([{tag: 5, multiple: false}])
    // The run stops below the held one; what is above it goes alone.
    expect(planAcks({through: 0, lowestHeld: 3}, [1, 2, 4], false)).toEqual({
      send: [{tag: 2, multiple: true}, {tag: 4, multiple: false}],
      state: {through: 2, lowestHeld: 3},
      waiting: [],
    })
  })

  it('below every held one, an earlier delivery still out: the tag waits (the run before the gap goes)', () => {
    expect(planAcks({through: 0, lowestHeld: NONE}, [1, 2, 4, 5], false)).toEqual({send: [{tag: 2, multiple: true}], state: {through: 2, lowestHeld: NONE}, waiting: [4, 5]})
    expect(planAcks({through: 0, lowestHeld: NONE}, [2, 3], false)).toEqual({send: [], state: {through: 0, lowestHeld: NONE}, waiting: [2, 3]})
  })

  it('closing, an earlier delivery still out: each waiting tag alone (the one before them is returned to the queue)', () => {
    expect(planAcks({through: 0, lowestHeld: NONE}, [1, 3, 4], true)).toEqual({
      send: [{tag: 1, multiple: false}, {tag: 3, multiple: false}, {tag: 4, multiple: false}],
      state: {through: 1, lowestHeld: NONE},
      waiting: [],
    })
  })
})

describe('AckWindow', () => {
  it('the acks noted between two takes end in one multiple, in whatever order they were noted', () => {
    const w = new AckWindow()
    w.ack(3)
    w.ack(1)
    w.ack(2)
    expect(w.take()).toEqual([{tag: 3, multiple: true}])
    w.ack(5)
    expect(w.take()).toEqual([])
    w.ack(4)
    expect(w.take()).toEqual([{tag: 5, multiple: true}])
    expect(w.pending).toBe(false)
  })

  it('a hold below waiting acks sends them alone at the next take, and a multiple never passes it', () => {
    const w = new AckWindow()
    w.ack(2)
    w.ack(4)
    w.ack(5)
    expect(w.take()).toEqual([])
    w.hold(3)
    expect(w.take()).toEqual([{tag: 4, multiple: false}, {tag: 5, multiple: false}])
    w.ack(1)
    expect(w.take()).toEqual([{tag: 2, multiple: true}])
    // A later hold above the first changes nothing; acks above the first held one stay alone.
    w.hold(7)
    w.ack(6)
    w.ack(8)
    expect(w.take()).toEqual([{tag: 6, multiple: false}, {tag: 8, multiple: false}])
  })

  it('take(true) (at close) sends every waiting ack: the delivery before them was neither acked nor held', () => {
    const w = new AckWindow()
    w.ack(3)
    w.ack(2)
    expect(w.take(true)).toEqual([{tag: 2, multiple: false}, {tag: 3, multiple: false}])
    expect(w.take(true)).toEqual([])
  })
})
