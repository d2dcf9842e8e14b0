import {describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {configFingerprint, partOf, readCheckpoint, type RunSpec} from '../../src/core/reconcile/checkpoint.js'
import {rangeRole} from '../../src/core/reconcile/checks.js'
import {checkParts, combineParts, type PartFile} from '../../src/core/reconcile/combine.js'
import {endsWhere, gridPoints, isEmpty, rangeWhere} from '../../src/core/reconcile/ranges.js'
import {addResults, type ReconcileReport} from '../../src/core/reconcile/report.js'
import {nextChunkSize} from '../../src/core/reconcile/run.js'
import {holdReason} from '../../src/core/reconcile/throttle.js'
import {lagOfStatus} from '../../src/core/replica.js'
import {parseTimeSpec} from '../../src/core/reconcile/window.js'

describe('rangeWhere (one test per row of its table)', () => {
  const where = (range: Parameters<typeof rangeWhere>[1], numeric = false) => {
    const f = rangeWhere('k', range, numeric)
    return [f.map((x) => x.sql).join(' AND '), f.flatMap((x) => x.params)]
  }
  it('no bound, NULLs in: no condition', () => expect(where({after: null, upTo: null, nulls: true})).toEqual(['', []]))
  it('no bound, NULLs out', () => expect(where({after: null, upTo: null, nulls: false})).toEqual(['k IS NOT NULL', []]))
  it('after only', () => expect(where({after: 'a', upTo: null, nulls: false})).toEqual(['k > ?', ['a']]))
  it('upTo only', () => expect(where({after: null, upTo: 'u', nulls: false})).toEqual(['k <= ?', ['u']]))
  it('both', () => expect(where({after: 'a', upTo: 'u', nulls: false})).toEqual(['k > ? AND k <= ?', ['a', 'u']]))
  it('upTo with NULLs (the first part)', () => expect(where({after: null, upTo: 'u', nulls: true})).toEqual(['(k IS NULL OR (k <= ?))', ['u']]))
  it('after with NULLs', () => expect(where({after: 'a', upTo: 'u', nulls: true})).toEqual(['(k IS NULL OR (k > ? AND k <= ?))', ['a', 'u']]))
  it('integer bounds go as BigInt, never as floats', () => expect(where({after: '9007199254740993', upTo: null, nulls: false}, true)).toEqual(['k > ?', [9_007_199_254_740_993n]]))
  it('an empty range is told', () => {
    expect(isEmpty({after: 'a', upTo: 'a', nulls: false})).toBe(true)
    expect(isEmpty({after: null, upTo: null, nulls: false})).toBe(false)
  })
})

describe('endsWhere (one test per row of its table)', () => {
  const where = (range: Parameters<typeof endsWhere>[1]) => {
    const f = endsWhere('k', range)
    return [f.map((x) => x.sql).join(' AND '), f.flatMap((x) => x.params)]
  }
  it('none, or no bound: no condition (never IS NOT NULL, which cost MIN/MAX a full index scan)', () => {
    expect(where(undefined)).toEqual(['', []])
    expect(where({after: null, upTo: null, nulls: false})).toEqual(['', []])
    expect(where({after: null, upTo: null, nulls: true})).toEqual(['', []])
  })
  it('bounds: the bounds alone, NULLs or not', () => {
    expect(where({after: null, upTo: 'u', nulls: true})).toEqual(['k <= ?', ['u']])
    expect(where({after: 'a', upTo: 'u', nulls: false})).toEqual(['k > ? AND k <= ?', ['a', 'u']])
  })
})

describe('partOf: the N ranges of a cut column meet exactly', () => {
  it('part 1 holds the NULLs and everything up to the first cut; the last reaches the end', () => {
    const cuts = ['c', 'f', 'k']
    expect([1, 2, 3, 4].map((index) => partOf(cuts, {index, count: 4}, false))).toEqual([
      {after: null, upTo: 'c', nulls: true, numeric: false},
      {after: 'c', upTo: 'f', nulls: false, numeric: false},
      {after: 'f', upTo: 'k', nulls: false, numeric: false},
      {after: 'k', upTo: null, nulls: false, numeric: false},
    ])
  })
  it('no part: the whole column', () => expect(partOf(undefined, undefined, true)).toEqual({after: null, upTo: null, nulls: true, numeric: true}))
})

describe('gridPoints', () => {
  it('cuts integer keys into cells from lo to hi', () => expect(gridPoints('0', '8', true, 4)).toEqual(['0', '2', '4', '6', '8']))
  it('stops when there is nothing left to cut', () => expect(gridPoints('1', '2', true, 8)).toEqual(['1', '2']))
})

describe('rangeRole (one test per row of its table)', () => {
  it('cache_drift: orders', () => expect(rangeRole('cache_drift', false)).toBe('orders'))
  it('order_without_message, not merged: orders', () => expect(rangeRole('order_without_message', false)).toBe('orders'))
  it('order_without_message, merged: outbox (its message id)', () => expect(rangeRole('order_without_message', true)).toBe('outbox'))
  it('the outbox checks: outbox', () => expect(['message_stuck', 'message_dead', 'sent_not_consumed'].map((c) => rangeRole(c as never, true))).toEqual(['outbox', 'outbox', 'outbox']))
  it('the inbox checks: inbox', () => expect(['consumed_failed', 'orphan_consumed'].map((c) => rangeRole(c as never, true))).toEqual(['inbox', 'inbox']))
})

describe('nextChunkSize (one test per row of its table)', () => {
  it('no measurable time: doubles', () => expect(nextChunkSize(10_000, 0, 2000)).toBe(20_000))
  it('follows the target', () => expect(nextChunkSize(10_000, 1600, 2000)).toBe(12_500))
  it('at most ×2 and ÷2', () => {
    expect(nextChunkSize(10_000, 100, 2000)).toBe(20_000)
    expect(nextChunkSize(10_000, 60_000, 2000)).toBe(5000)
  })
  it('within [1,000 (or the size, when below), 5,000,000]', () => {
    expect(nextChunkSize(1500, 60_000, 2000)).toBe(1000)
    expect(nextChunkSize(2, 60_000, 1)).toBe(2)
    expect(nextChunkSize(4_000_000, 1, 2000)).toBe(5_000_000)
  })
})

describe('holdReason (one test per row of its table)', () => {
  const limits = {maxLoad: 25, maxLagS: 30}
  it('load above --max-load (its own statement not counted)', () => {
    expect(holdReason({load: [{server: 'primary', threads: 27}]}, limits)).toEqual({kind: 'load', text: 'primary: Threads_running 26 > 25'})
    expect(holdReason({load: [{server: 'primary', threads: 26}]}, limits)).toBeNull()
  })
  it('replication not running', () => expect(holdReason({load: [], replica: {name: 'r:3306', lagS: null}}, limits)).toEqual({kind: 'lag', text: 'replica r:3306: replication not running'}))
  it('lag above --max-lag', () => expect(holdReason({load: [], replica: {name: 'r:3306', lagS: 42}}, limits)).toEqual({kind: 'lag', text: 'replica r:3306 lags 42s > 30s'}))
  it('within the limits, or no replica: go', () => {
    expect(holdReason({load: [{server: 'server', threads: 3}], replica: {name: 'r', lagS: 30}}, limits)).toBeNull()
    expect(holdReason({load: [{server: 'server', threads: 99}]}, {maxLoad: 0, maxLagS: 30})).toBeNull()
  })
})

describe('lagOfStatus (one test per row of its table)', () => {
  it('SQL thread stopped: null', () => expect(lagOfStatus({Slave_SQL_Running: 'No', Slave_IO_Running: 'Yes', Seconds_Behind_Master: 0})).toBeNull())
  it('Seconds_Behind NULL: null', () => expect(lagOfStatus({Slave_SQL_Running: 'Yes', Slave_IO_Running: 'Yes', Seconds_Behind_Master: null})).toBeNull())
  it('IO thread stopped: null', () => expect(lagOfStatus({Replica_SQL_Running: 'Yes', Replica_IO_Running: 'No', Seconds_Behind_Source: 3})).toBeNull())
  it('both running: the seconds', () => expect(lagOfStatus({Replica_SQL_Running: 'Yes', Replica_IO_Running: 'Yes', Seconds_Behind_Source: 3})).toBe(3))
})

describe('readCheckpoint (one test per row of its table)', () => {
  const spec: RunSpec = {checks: ['message_dead'], since: parseTimeSpec('24h', '--since'), graceMs: 300_000, sample: 5}
  const fingerprint = configFingerprint(DEFAULTS, spec)
  it('none', () => expect(readCheckpoint(null, fingerprint).note).toMatch(/no checkpoint/))
  it('unreadable or another version', () => {
    expect(readCheckpoint('{', fingerprint).note).toMatch(/unreadable/)
    expect(readCheckpoint('{"version": 7}', fingerprint).note).toMatch(/another msgops version/)
  })
  it('another configuration', () => {
    const other = configFingerprint({...DEFAULTS, outbox: {...DEFAULTS.outbox, table: 'order_mq_tab'}}, spec)
    expect(other).not.toBe(fingerprint)
    expect(readCheckpoint(JSON.stringify({version: 2, fingerprint: other}), fingerprint).note).toMatch(/another configuration/)
  })
  it('this configuration', () => expect(readCheckpoint(JSON.stringify({version: 2, fingerprint}), fingerprint).checkpoint).toMatchObject({version: 2}))
})

const report = (index: number, count: number, run = 'r1', found = 1): PartFile => ({
  file: `part-${index}.json`,
  report: {
    window: {since: 's', until: null, grace: '5m', cutoff: 'c', now: 'n'},
    checks: {message_dead: {count: found, oldest: `2026-01-0${index}`, samples: [{id: `m${index}`, at: `2026-01-0${index}`}]}},
    merged: [],
    total: found,
    durationMs: 100 * index,
    part: {index, count, run, ranges: {}},
  } as ReconcileReport,
})

describe('checkParts (one test per row of its table)', () => {
  it('a file without a part', () => expect(() => checkParts([{...report(1, 2), report: {...report(1, 2).report, part: undefined}}])).toThrow(/part-1\.json is not a part's report/))
  it('parts of different runs', () => expect(() => checkParts([report(1, 2), report(2, 2, 'r2')])).toThrow(/of run r1 .* of run r2/))
  it('a part twice', () => expect(() => checkParts([report(1, 2), report(1, 2), report(2, 2)])).toThrow(/part 1\/2 is given twice \(part-1\.json, part-1\.json\)/))
  it('a part missing', () => expect(() => checkParts([report(1, 3), report(3, 3)])).toThrow(/part 2\/3 of run r1 is missing/))
  it('every part once: in order', () => expect(checkParts([report(2, 2), report(1, 2)]).map((p) => p.file)).toEqual(['part-1.json', 'part-2.json']))
})

describe('combineParts', () => {
  it('adds the parts up, keeps the oldest samples, and gives the whole run exit code', () => {
    const {report: whole, outcome} = combineParts([report(1, 3), report(2, 3), report(3, 3, 'r1', 0)], 5)
    expect(whole.checks.message_dead).toEqual({count: 2, oldest: '2026-01-01', samples: [{id: 'm1', at: '2026-01-01'}, {id: 'm2', at: '2026-01-02'}, {id: 'm3', at: '2026-01-03'}]})
    expect(whole.total).toBe(2)
    expect(whole.durationMs).toBe(300)
    expect(outcome).toBe('found')
    expect(combineParts([report(1, 1, 'r1', 0)], 5).outcome).toBe('ok')
  })
  it('addResults keeps at most `keep` samples, the oldest', () => {
    const a = {count: 1, oldest: '2', samples: [{id: 'b', at: '2'}]}
    const b = {count: 2, oldest: '1', samples: [{id: 'a', at: '1'}, {id: 'c', at: null}]}
    expect(addResults(a, b, 2)).toEqual({count: 3, oldest: '1', samples: [{id: 'a', at: '1'}, {id: 'b', at: '2'}]})
  })
})
