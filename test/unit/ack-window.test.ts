import {describe, expect, it} from 'vitest'

import {AckWindow} from '../../src/adapters/dlq.js'

/** One test per row of AckWindow's decision table: which acks a dead-letter reader sends, and when. */
describe('AckWindow', () => {
  it('every earlier delivery acked or waiting: one ack with multiple up to the last waiting one', () => {
    const w = new AckWindow()
    expect(w.ack(1)).toEqual([{tag: 1, multiple: false}])
    expect(w.ack(3)).toEqual([])
    expect(w.ack(4)).toEqual([])
    // 2 fills the gap: 2, 3 and 4 go in one ack.
    expect(w.ack(2)).toEqual([{tag: 4, multiple: true}])
    expect(w.rest()).toEqual([])
  })

  it('an earlier delivery still out: the ack waits for it', () => {
    const w = new AckWindow()
    expect(w.ack(2)).toEqual([])
    expect(w.ack(3)).toEqual([])
    expect(w.ack(1)).toEqual([{tag: 3, multiple: true}])
  })

  it('above a held delivery each ack goes alone, so that the held one is never covered by a multiple', () => {
    const w = new AckWindow()
    expect(w.hold(2)).toEqual([])
    expect(w.ack(3)).toEqual([{tag: 3, multiple: false}])
    expect(w.ack(5)).toEqual([{tag: 5, multiple: false}])
    // Below the held one, a multiple still covers only what is below it.
    expect(w.ack(1)).toEqual([{tag: 1, multiple: false}])
  })

  it('a hold sends the acks waiting above it one by one, and keeps those below it waiting', () => {
    const w = new AckWindow()
    expect(w.ack(2)).toEqual([])
    expect(w.ack(5)).toEqual([])
    expect(w.ack(4)).toEqual([])
    expect(w.hold(3)).toEqual([{tag: 4, multiple: false}, {tag: 5, multiple: false}])
    expect(w.ack(1)).toEqual([{tag: 2, multiple: true}])
    // A later hold above the first changes nothing.
    expect(w.hold(7)).toEqual([])
  })

  it('rest() (at close) sends every waiting ack alone: the delivery before them was neither acked nor held', () => {
    const w = new AckWindow()
    expect(w.ack(3)).toEqual([])
    expect(w.ack(2)).toEqual([])
    expect(w.rest()).toEqual([{tag: 2, multiple: false}, {tag: 3, multiple: false}])
    expect(w.rest()).toEqual([])
  })
})
