import {describe, expect, it} from 'vitest'

import {FAULT_KINDS, MAX_FAULT_RATE, planFaults, seededRandom} from '../../src/core/demo/faults.js'
import {isDemoMessage} from '../../src/core/demo/reset.js'
import {messageIdOf, orderId} from '../../src/core/demo/run.js'

describe('demo faults', () => {
  it('the same seed gives the same plan, another seed another one', () => {
    expect(planFaults(5000, 0.02, 42)).toEqual(planFaults(5000, 0.02, 42))
    expect(planFaults(5000, 0.02, 43)).not.toEqual(planFaults(5000, 0.02, 42))
  })

  it('injects each kind at about the fault rate, at most one per order', () => {
    const plan = planFaults(70_000, 0.01, 7)
    for (const kind of FAULT_KINDS) {
      const count = plan.filter((f) => f === kind).length
      // 700 expected; a binomial spread of ±4 sigma is about ±105.
      expect(count).toBeGreaterThan(595)
      expect(count).toBeLessThan(805)
    }
    expect(plan.filter((f) => f !== undefined).length).toBeLessThan(70_000 * 0.07 * 1.1)
  })

  it('at rate 0 injects nothing; at the maximum rate every order gets one fault', () => {
    expect(planFaults(1000, 0, 1).every((f) => f === undefined)).toBe(true)
    expect(planFaults(1000, MAX_FAULT_RATE, 1).every((f) => f !== undefined)).toBe(true)
  })

  it('draws uniformly in [0, 1)', () => {
    const random = seededRandom(1)
    const draws = Array.from({length: 10_000}, random)
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...draws)).toBeLessThan(1)
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02)
  })

  it('names orders and messages so that demo rows are recognisable', () => {
    expect(orderId(42, 17)).toBe('demo-42-0000017')
    expect(messageIdOf('demo-42-0000017')).toBe('demo-m-42-0000017')
  })
})

describe('demo --reset', () => {
  it('takes a message for the demo\'s only by a message id starting with "demo-"', () => {
    expect(isDemoMessage({properties: {messageId: 'demo-m-42-0000017'}})).toBe(true)
    expect(isDemoMessage({properties: {messageId: 'order-17'}})).toBe(false)
    expect(isDemoMessage({properties: {messageId: 'xdemo-1'}})).toBe(false)
    // A foreign message without an id is never taken for the demo's, whatever its body says.
    expect(isDemoMessage({properties: {}})).toBe(false)
  })
})
