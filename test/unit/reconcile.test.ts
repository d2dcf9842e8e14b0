import {describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {UsageError} from '../../src/core/errors.js'
import {inboxMapping, ordersMapping, outboxMapping} from '../../src/core/mapping.js'
import {type CheckName, CHECKS, type Link, mergePlan, orderLink, type Schema, scanOrder, windowCovers} from '../../src/core/reconcile/checks.js'
import {keysMergeable} from '../../src/core/reconcile/merge.js'
import {cacheKeys} from '../../src/core/reconcile/key-pattern.js'
import {cacheDrift} from '../../src/core/reconcile/cache.js'
import {fixAction, selectFixes} from '../../src/core/reconcile/fix.js'
import {type ReconcileReport, Tally} from '../../src/core/reconcile/report.js'
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
    expect(cacheKeys('app:order:{id}:v{id}')('42')).toBe('app:order:42:v42')
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
  it('counts everything, keeps the N oldest samples, oldest first, and the oldest time', () => {
    const tally = new Tally(2)
    tally.add({id: 'b', at: '2026-11-20 10:00:00.000000'})
    tally.add({id: 'a', at: '2026-11-20 09:00:00.000000'})
    tally.add({id: 'c', at: '2026-11-20 11:00:00.000000'})
    expect(tally.result()).toEqual({
      count: 3,
      oldest: '2026-11-20 09:00:00.000000',
      samples: [
        {id: 'a', at: '2026-11-20 09:00:00.000000'},
        {id: 'b', at: '2026-11-20 10:00:00.000000'},
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
        merged: [],
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
      merged: [],
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

describe('keysMergeable (decision table)', () => {
  const text = (collation: string, indexed = true) => ({dataType: 'varchar', collation, indexed})
  it('merges text keys of one collation, each leading an index', () => {
    expect(keysMergeable([text('utf8mb4_general_ci'), text('utf8mb4_general_ci'), {...text('utf8mb4_general_ci'), dataType: 'char'}])).toBe(true)
  })
  it('merges integer keys of any width', () => {
    expect(keysMergeable([{dataType: 'bigint', collation: null, indexed: true}, {dataType: 'INT', collation: null, indexed: true}])).toBe(true)
  })
  it('refuses two collations, mixed types, a key without an index, or nothing', () => {
    expect(keysMergeable([text('utf8mb4_general_ci'), text('utf8mb4_bin')])).toBe(false)
    expect(keysMergeable([text('utf8mb4_general_ci'), {dataType: 'bigint', collation: null, indexed: true}])).toBe(false)
    expect(keysMergeable([text('utf8mb4_general_ci'), text('utf8mb4_general_ci', false)])).toBe(false)
    expect(keysMergeable([{dataType: 'text', collation: 'utf8mb4_general_ci', indexed: true}])).toBe(false)
    expect(keysMergeable([])).toBe(false)
  })
})

describe('mergePlan (decision table)', () => {
  const tables = {
    orders: ordersMapping(DEFAULTS, {id: 'id', messageId: 'message_id'}),
    outbox: outboxMapping(DEFAULTS, {id: 'id', aggregateId: 'aggregate_id'}),
    inbox: inboxMapping(DEFAULTS, {messageId: 'message_id'}),
  }
  const column = {c: '`id`', name: 'id'}
  const schema = (link: Link['kind'] | null, withOrders = true): Schema => ({...tables, orders: withOrders ? tables.orders : undefined, link: link && {kind: link, order: column, outbox: column}})
  const three: CheckName[] = ['order_without_message', 'sent_not_consumed', 'orphan_consumed', 'cache_drift']
  const all = {orders: true, outbox: true, inbox: true}
  it('merges the three anti-join checks when the window covers every table and orders link by message id', () => {
    expect(mergePlan(three, schema('messageId'), all)).toEqual(['order_without_message', 'sent_not_consumed', 'orphan_consumed'])
  })
  it('keeps a check on lookups when the window does not cover one of its tables', () => {
    expect(mergePlan(three, schema('messageId'), {...all, orders: false})).toEqual(['sent_not_consumed'])
    expect(mergePlan(three, schema('messageId'), {...all, inbox: false})).toEqual(['order_without_message'])
  })
  it('an aggregate-id link is another key: order_without_message and orphan_consumed stay on lookups', () => {
    expect(mergePlan(three, schema('aggregateId'), all)).toEqual(['sent_not_consumed'])
  })
  it('without an orders table, orphan_consumed compares inbox and outbox only', () => {
    expect(mergePlan(['orphan_consumed'], schema(null, false), {outbox: true, inbox: true})).toEqual(['orphan_consumed'])
  })
  it('only selected checks', () => {
    expect(mergePlan(['message_stuck', 'cache_drift'], schema('messageId'), all)).toEqual([])
  })
})

describe('windowCovers', () => {
  it('is true for an empty table or one whose oldest row is inside the window, false for no timestamp or older rows', () => {
    expect(windowCovers('2026-11-20 00:00:00.000000', null)).toBe(true)
    expect(windowCovers('2026-11-20 00:00:00.000000', '2026-11-20 00:00:00.000000')).toBe(true)
    expect(windowCovers('2026-11-20 00:00:00.000000', '2026-11-19 23:59:59.999000')).toBe(false)
    expect(windowCovers('2026-11-20 00:00:00.000000', undefined)).toBe(false)
  })
})

describe('Tally', () => {
  it('keeps the oldest samples whatever order the findings come in, and counts them all', () => {
    const tally = new Tally(3)
    const times = [5, 1, 9, 3, 7, 2, 8, 4, 6, 0]
    for (let round = 0; round < 20; round++) for (const t of times) tally.add({id: `r${round}-t${t}`, at: `2026-11-20 00:00:0${t}.000000`})
    tally.add({id: 'no-time', at: null})
    const result = tally.result()
    expect(result.count).toBe(201)
    expect(result.oldest).toBe('2026-11-20 00:00:00.000000')
    expect(result.samples.map((s) => s.id)).toEqual(['r0-t0', 'r1-t0', 'r10-t0'])
  })
  it('keeps nothing with a sample size of 0', () => {
    const tally = new Tally(0)
    tally.add({id: 'a', at: null})
    expect(tally.result()).toEqual({count: 1, oldest: null, samples: []})
  })
})

describe('selectFixes (decision table)', () => {
  const report = (counts: Partial<Record<CheckName, number>>, skipped: CheckName[] = []): ReconcileReport => ({
    window: {since: '', until: null, grace: '5m', cutoff: '', now: ''},
    checks: Object.fromEntries(
      (['message_stuck', ...Object.keys(counts)] as CheckName[]).map((c) => [c, {count: counts[c] ?? 0, oldest: null, samples: [], ...(skipped.includes(c) ? {skipped: 'x'} : {})}]),
    ),
    merged: [],
    total: 0,
    durationMs: 0,
  })
  const has = {drain: true, fixDead: false}
  it('repairs the fixable checks with findings, never the report-only ones', () => {
    expect(selectFixes(report({cache_drift: 2, order_without_message: 3, orphan_consumed: 1}), DEFAULTS, has).fixable).toEqual(['cache_drift'])
  })
  it('drains stuck rows too when rows are set back to pending, even if none were stuck', () => {
    expect(selectFixes(report({sent_not_consumed: 1}), DEFAULTS, has).fixable).toEqual(['sent_not_consumed', 'message_stuck'])
    expect(selectFixes(report({message_dead: 1}), DEFAULTS, has).fixable).toEqual(['message_dead'])
    expect(selectFixes(report({message_dead: 1}), DEFAULTS, {...has, fixDead: true}).fixable).toEqual(['message_dead', 'message_stuck'])
    expect(selectFixes(report({sent_not_consumed: 1}, ['message_stuck']), DEFAULTS, has).fixable).toEqual(['sent_not_consumed'])
  })
  it('actionable leaves out fixes that do nothing here: dead letters without --fix-dead, stuck rows without a drain', () => {
    const selected = selectFixes(report({message_dead: 1, message_stuck: 2}), DEFAULTS, {drain: false, fixDead: false})
    expect(selected.fixable).toEqual(['message_dead', 'message_stuck'])
    expect(selected.actionable).toEqual([])
  })
})
