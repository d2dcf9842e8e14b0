import {describe, expect, it} from 'vitest'

import {describeLetter} from '../../src/core/dlq/deaths.js'
import {filtersFromInput, matcher} from '../../src/core/dlq/decide.js'
import type {DeadLetter} from '../../src/core/dlq/ports.js'
import {fingerprint} from '../../src/core/fingerprint.js'

/** A dead letter that order_queue rejected, with an error header. */
function letter(error: string | undefined, routingKey = 'order.created', queue = 'order_queue', reason = 'rejected'): DeadLetter {
  return {
    tag: 1,
    body: Buffer.from('{}'),
    redelivered: false,
    properties: {
      messageId: 'm-1',
      headers: {
        'x-first-death-queue': queue,
        'x-first-death-reason': reason,
        'x-death': [{count: 1, reason, queue, exchange: 'order_exchange', 'routing-keys': [routingKey]}],
        ...(error === undefined ? {} : {'x-exception': error}),
      },
    },
  }
}

const facts = (l: DeadLetter) => describeLetter(l, ['x-exception'])

describe('dead letters: the fingerprint beside the group key', () => {
  it('is the fingerprint of the whole error header text with the routing key, first death reason and queue', () => {
    const error = 'TimeoutException: payment 4711 after 30000 ms\n\tat Pay.call(Pay.java:88)'
    expect(facts(letter(error)).fingerprint).toBe(fingerprint({error, subject: 'order.created', reason: 'rejected', queue: 'order_queue'}))
  })

  it('the same error with other ids: other group keys, one fingerprint', () => {
    const a = facts(letter('order 17 not found'))
    const b = facts(letter('order 90210 not found'))
    expect(a.group).not.toBe(b.group)
    expect(a.fingerprint).toBe(b.fingerprint)
  })

  it('another routing key, queue or reason: another fingerprint', () => {
    const base = facts(letter('boom')).fingerprint
    expect(facts(letter('boom', 'order.paid')).fingerprint).not.toBe(base)
    expect(facts(letter('boom', 'order.created', 'other_queue')).fingerprint).not.toBe(base)
    expect(facts(letter('boom', 'order.created', 'order_queue', 'expired')).fingerprint).not.toBe(base)
  })

  it('--group takes a group key or a fingerprint', () => {
    const l = letter('order 17 not found')
    const f = facts(l)
    expect(matcher(filtersFromInput({groups: [f.group]}), Date.now)(l, f)).toBe(true)
    expect(matcher(filtersFromInput({groups: [f.fingerprint]}), Date.now)(l, f)).toBe(true)
    const other = letter('order 18 not found')
    expect(matcher(filtersFromInput({groups: [f.fingerprint]}), Date.now)(other, facts(other))).toBe(true)
    expect(matcher(filtersFromInput({groups: ['00000000']}), Date.now)(l, f)).toBe(false)
  })
})
