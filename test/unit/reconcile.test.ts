import {describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {UsageError} from '../../src/core/errors.js'
import {CHECKS, orderLink, scanOrder} from '../../src/core/reconcile/checks.js'
import {cacheDrift, cacheKey, fixAction, Tally} from '../../src/core/reconcile/run.js'
import {keysetAfter} from '../../src/core/reconcile/scan.js'
import {parseTimeSpec} from '../../src/core/reconcile/window.js'
import {reconcileMetrics, renderReconcile} from '../../src/render/reconcile.js'

describe('parseTimeSpec', () => {
  it('reads durations as "that long ago" and dates as database times', () => {
    expect(parseTimeSpec('24h', '--since')).toEqual({kind: 'ago', ms: 86_400_000, text: '24h'})
    expect(parseTimeSpec('2026-11-20', '--since')).toMatchObject({kind: 'at', at: '2026-11-20 00:00:00'})
    expect(parseTimeSpec('2026-11-20T10:30', '--since')).toMatchObject({kind: 'at', at: '2026-11-20 10:30:00'})
    expect(parseTimeSpec('2026-11-20 10:30:15.250', '--until')).toMatchObject({kind: 'at', at: '2026-11-20 10:30:15.250'})
  })

  it('refuses zones, bare numbers and garbage with a usage error naming the flag', () => {
    expect(() => parseTimeSpec('2026-11-20T10:30:00Z', '--since')).toThrow(UsageError)
    expect(() => parseTimeSpec('10', '--since')).toThrow(/--since "10" has no unit/)
    expect(() => parseTimeSpec('yesterday', '--until')).toThrow(/--until/)
  })
})

describe('keysetAfter', () => {
  it('spells (a, b, c) > (x, y, z) as nested OR/AND with its parameters in order', () => {
    expect(keysetAfter(['a'], [1])).toEqual({sql: 'a > ?', params: [1]})
    expect(keysetAfter(['a', 'b', 'c'], [1, 2, 3])).toEqual({sql: '(a > ? OR (a = ? AND (b > ? OR (b = ? AND c > ?))))', params: [1, 1, 2, 2, 3]})
  })
})

describe('cacheDrift (decision table)', () => {
  it.each([
    ['paid', {state: 'missing'}, 'missing'],
    ['paid', {state: 'value', value: 'paid'}, null],
    ['paid', {state: 'value', value: 'created'}, 'cache=created db=paid'],
    ['paid', {state: 'invalid', reason: 'wrong Redis type'}, 'wrong Redis type'],
    [null, {state: 'missing'}, null],
    [null, {state: 'value', value: 'paid'}, 'cache=paid db=NULL'],
  ] as const)('db %s, cache %j → %s', (db, read, expected) => {
    expect(cacheDrift(db, read)).toBe(expected)
  })

  it('builds keys from the pattern', () => {
    expect(cacheKey('app:order:{id}:v{id}', '42')).toBe('app:order:42:v42')
  })
})

describe('orderLink (decision table)', () => {
  it('prefers the orders message id column, then the outbox aggregate id, else none', () => {
    expect(orderLink('message_id', 'aggregate_id')).toBe('messageId')
    expect(orderLink(null, 'aggregate_id')).toBe('aggregateId')
    expect(orderLink(undefined, null)).toBeNull()
  })
})

describe('Tally', () => {
  it('counts everything, keeps the first N samples and the oldest time', () => {
    const tally = new Tally(2)
    tally.add({id: 'b', at: '2026-11-20 10:00:00.000000'})
    tally.add({id: 'a', at: '2026-11-20 09:00:00.000000'})
    tally.add({id: 'c', at: '2026-11-20 11:00:00.000000'})
    expect(tally.result()).toEqual({
      count: 3,
      oldest: '2026-11-20 09:00:00.000000',
      samples: [
        {id: 'b', at: '2026-11-20 10:00:00.000000'},
        {id: 'a', at: '2026-11-20 09:00:00.000000'},
      ],
    })
  })
})

describe('fixAction (decision table)', () => {
  it('drains stuck rows only with a drain, dead letters only with --fix-dead, and follows cache.onDrift', () => {
    expect(fixAction('message_stuck', DEFAULTS, {drain: false, fixDead: false}).note).toContain('msgops outbox drain')
    expect(fixAction('message_stuck', DEFAULTS, {drain: true, fixDead: false}).note).toBeUndefined()
    expect(fixAction('message_dead', DEFAULTS, {drain: true, fixDead: false}).note).toContain('--fix-dead')
    expect(fixAction('message_dead', DEFAULTS, {drain: false, fixDead: true})).toEqual({action: 'set back to pending'})
    expect(fixAction('sent_not_consumed', DEFAULTS, {drain: false, fixDead: false})).toEqual({action: 'set back to pending'})
    expect(fixAction('cache_drift', DEFAULTS, {drain: false, fixDead: false}).action).toBe('rewrite from MySQL')
    expect(fixAction('cache_drift', {...DEFAULTS, cache: {...DEFAULTS.cache, onDrift: 'delete'}}, {drain: false, fixDead: false}).action).toBe('delete the key')
  })
})

describe('reconcileMetrics', () => {
  it('has findings per check (skipped checks left out), duration and last success', () => {
    const metrics = reconcileMetrics(
      {
        window: {since: '', until: null, grace: '5m', cutoff: '', now: ''},
        checks: {message_dead: {count: 3, oldest: null, samples: []}, cache_drift: {count: 0, oldest: null, samples: [], skipped: 'no status'}},
        total: 3,
        durationMs: 1500,
      },
      1_700_000_000_500,
    )
    expect(metrics[0].samples).toEqual([{labels: {check: 'message_dead'}, value: 3}])
    expect(metrics[1].samples).toEqual([{value: 1.5}])
    expect(metrics[2].samples).toEqual([{value: 1_700_000_000}])
    expect(CHECKS).toHaveLength(7)
  })
})

describe('renderReconcile', () => {
  it('shows every check with its count, oldest time to the millisecond, samples with details, and the total', () => {
    const text = renderReconcile({
      window: {since: '2026-11-20 05:00:00.000000', until: null, grace: '5m', cutoff: '2026-11-21 04:55:00.000000', now: '2026-11-21 05:00:00.000000'},
      checks: {
        cache_drift: {count: 2, oldest: '2026-11-21 04:00:00.123000', samples: [{id: 'o14', at: null, detail: 'missing'}, {id: 'o15', at: null}]},
        order_without_message: {count: 0, oldest: null, samples: [], skipped: 'cannot link orders'},
      },
      total: 2,
      durationMs: 1500,
    })
    expect(text).toContain('2026-11-21 04:00:00.123 ')
    expect(text).not.toContain('04:00:00.123000')
    expect(text).toContain('o14 (missing), o15')
    expect(text).toContain('skipped: cannot link orders')
    expect(text).toContain('2 discrepancies found in 1.5s')
  })
})

describe('scanOrder (decision table)', () => {
  it('walks the primary key when the window holds the whole table, else the timestamp index', () => {
    expect(scanOrder('2026-11-20 00:00:00.000000', '2026-11-20 08:00:00.000000', true)).toBe('key')
    expect(scanOrder('2026-11-20 08:00:00.000000', '2026-11-20 08:00:00.000000', true)).toBe('key')
    expect(scanOrder('2026-11-20 09:00:00.000000', '2026-11-20 08:00:00.000000', true)).toBe('time')
    expect(scanOrder('2026-11-20 09:00:00.000000', null, true)).toBe('time')
    expect(scanOrder('2026-11-20 09:00:00.000000', null, false)).toBe('key')
  })
})
