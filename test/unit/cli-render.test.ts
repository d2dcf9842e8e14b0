import {describe, expect, it} from 'vitest'

import {fetchFailure} from '../../src/adapters/management.js'
import {DEFAULTS} from '../../src/config/defaults.js'
import {changeOutcome, foundIf, OUTCOME_EXIT} from '../../src/core/outcome.js'
import {leftAfterFix, reconcileOutcome, type FixReport} from '../../src/core/reconcile/fix.js'
import type {ReconcileReport} from '../../src/core/reconcile/report.js'
import type {CheckName} from '../../src/core/reconcile/checks.js'
import {parseErrorLine} from '../../src/render/parse-error.js'
import {etaText} from '../../src/render/progress.js'
import {cut, fitColumns, renderTable, visibleWidth, wrapText} from '../../src/render/table.js'
import {describeTarget} from '../../src/render/target.js'

describe('parseErrorLine (decision table)', () => {
  const known = ['limit', 'status', 'older-than', 'json']
  it('unknown flag with a close known one: did you mean', () => {
    expect(parseErrorLine({message: 'Nonexistent flag: --limt\nSee more help with --help', flags: ['--limt']}, known, 'outbox list')).toEqual({message: 'unknown flag --limt', suggestion: 'did you mean --limit?'})
    expect(parseErrorLine({message: 'x', flags: ['--olderthan=5m']}, known, 'outbox list').suggestion).toBe('did you mean --older-than?')
  })
  it('unknown flag with nothing close: the command help', () => {
    expect(parseErrorLine({message: 'Nonexistent flag: --zzz', flags: ['--zzz']}, known, 'doctor')).toEqual({message: 'unknown flag --zzz', suggestion: 'see `msgops doctor --help`'})
  })
  it('a missing argument is named with its description', () => {
    const e = {message: 'Missing 1 required arg:\nid  the outbox row id\nSee more help with --help', args: [{name: 'id', description: 'the outbox row id'}]}
    expect(parseErrorLine(e, known, 'outbox show')).toEqual({message: 'missing argument ID: the outbox row id', suggestion: 'see `msgops outbox show --help`'})
  })
  it('unexpected arguments are quoted', () => {
    expect(parseErrorLine({message: 'Unexpected arguments: a, b\nSee more help with --help', args: ['a', 'b']}, known, 'doctor').message).toBe('unexpected arguments "a", "b"')
  })
  it("a flag's refused value keeps the reason", () => {
    const e = {message: 'Parsing --limit \n\tExpected an integer but received: abc\nSee more help with --help'}
    expect(parseErrorLine(e, known, 'outbox list').message).toBe('--limit: expected an integer but received: abc')
  })
  it('anything else: the lines joined on one line, colour codes and the help hint dropped', () => {
    const e = {message: 'The following error occurred:\n  \u001B[2mAll of the following must be provided when using --to-routing-key: --to-exchange\u001B[22m\nSee more help with --help'}
    expect(parseErrorLine(e, known, 'dlq replay').message).toBe('all of the following must be provided when using --to-routing-key: --to-exchange')
  })
})

describe('tables fitted to the terminal', () => {
  it('measures and cuts text by what the terminal shows, colour codes not counted', () => {
    const red = '\u001B[31m12\u001B[39m'
    expect(visibleWidth(red)).toBe(2)
    expect(cut(red, 10)).toBe(red)
    expect(cut('\u001B[31mabcdefghij\u001B[39m', 5)).toBe('\u001B[31mabcd…\u001B[0m')
  })
  it('coloured cells line up with plain ones', () => {
    const lines = renderTable(['check', 'count'], [['a', '\u001B[31m12\u001B[39m'], ['bb', '0']], {width: 80}).split('\n')
    const widths = new Set(lines.map((l) => visibleWidth(l)))
    expect(widths.size).toBe(1)
  })
  it('fitColumns: the widest flexible column gives up width, never below 10, fixed ones never', () => {
    expect(fitColumns([10, 5, 100], [2], 80)).toEqual([10, 5, 55])
    expect(fitColumns([10, 50, 50], [1, 2], 80)).toEqual([10, 30, 30])
    expect(fitColumns([70, 60], [1], 80)).toEqual([70, 10])
    expect(fitColumns([10, 10], [1], 80)).toEqual([10, 10])
  })
  it('a table with a long sample column fits 80 columns and keeps its counts whole', () => {
    const text = renderTable(['check', 'count', 'samples'], [['cache_drift', '12345', 'o1, o2, '.repeat(40)]], {shrink: [2], width: 80})
    for (const line of text.split('\n')) expect(visibleWidth(line)).toBeLessThanOrEqual(80)
    expect(text).toContain('12345')
  })
  it('a wrapped column keeps every word', () => {
    const detail = 'arguments: broker {"x-queue-type":"classic"}, file {"x-queue-type":"quorum"}; cannot be changed in place'
    const text = renderTable(['action', 'name', 'detail'], [['drift', 'order_queue', detail]], {wrap: [2], width: 60})
    for (const line of text.split('\n')) expect(visibleWidth(line)).toBeLessThanOrEqual(60)
    const words = text.replaceAll(/[│\s]+/g, ' ')
    for (const word of detail.split(' ').filter((w) => w.length < 20)) expect(words).toContain(word)
    expect(wrapText('aaaa bbbb cccc', 9)).toBe('aaaa bbbb\ncccc')
    expect(wrapText('abcdefghij', 4)).toBe('abcd\nefgh\nij')
  })
})

describe('etaText', () => {
  it.each([
    [0, 100, 1000, '-'],
    [10, undefined, 1000, '-'],
    [50, 100, 10_000, '10s'],
    [100, 100, 10_000, '0s'],
    [1, 1000, 1000, '16m 39s'],
  ])('done %d of %s after %d ms: %s', (done, total, elapsed, text) => expect(etaText(done, total, elapsed)).toBe(text))
})

describe('outcomes and exit codes (decision table)', () => {
  it('maps each outcome to its exit code', () => {
    expect(OUTCOME_EXIT).toEqual({ok: 0, cancelled: 0, found: 1, partial: 1, interrupted: 130})
    expect(foundIf(true)).toBe('found')
    expect(foundIf(false)).toBe('ok')
  })
  it('changeOutcome: interrupted, then cancelled, then partial when something was left', () => {
    expect(changeOutcome({interrupted: true, cancelled: true}, true)).toBe('interrupted')
    expect(changeOutcome({cancelled: true}, true)).toBe('cancelled')
    expect(changeOutcome({}, true)).toBe('partial')
    expect(changeOutcome({}, false)).toBe('ok')
  })
})

describe('reconcileOutcome (decision table)', () => {
  const report = (counts: Partial<Record<CheckName, number>>): ReconcileReport => ({
    window: {since: '', until: null, grace: '5m', cutoff: '', now: ''},
    checks: Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, {count: n, oldest: null, samples: []}])),
    merged: [],
    total: Object.values(counts).reduce((a, b) => a + (b ?? 0), 0),
    durationMs: 0,
  })
  const fixes = (checks: FixReport['checks'], extra: Partial<FixReport> = {}): FixReport => ({dryRun: false, interrupted: false, checks, ...extra})
  const fixed = (n: number) => ({action: 'x', fixed: n, notFixed: 0, ids: []})
  it('fix interrupted: interrupted', () => expect(reconcileOutcome(report({cache_drift: 1}), fixes({}, {interrupted: true}), true)).toBe('interrupted'))
  it('no findings: ok', () => expect(reconcileOutcome(report({cache_drift: 0}), undefined, false)).toBe('ok'))
  it('findings without --fix or with --dry-run: found', () => {
    expect(reconcileOutcome(report({cache_drift: 2}), undefined, false)).toBe('found')
    expect(reconcileOutcome(report({cache_drift: 2}), fixes({cache_drift: fixed(2)}, {dryRun: true}), false)).toBe('found')
  })
  it('a declined fix: found', () => expect(reconcileOutcome(report({cache_drift: 2}), undefined, false)).toBe('found'))
  it('a fix that repaired everything: ok', () => expect(reconcileOutcome(report({cache_drift: 2, sent_not_consumed: 1}), fixes({cache_drift: fixed(2), sent_not_consumed: fixed(1)}), true)).toBe('ok'))
  it('a fix that left something: partial', () => {
    expect(reconcileOutcome(report({cache_drift: 2, order_without_message: 1}), fixes({cache_drift: fixed(2)}), true)).toBe('partial')
    expect(reconcileOutcome(report({message_dead: 1}), fixes({message_dead: {...fixed(0), note: 'pass --fix-dead'}}), true)).toBe('partial')
    expect(reconcileOutcome(report({message_stuck: 3}), fixes({message_stuck: {...fixed(2), notFixed: 1}}), true)).toBe('partial')
    expect(leftAfterFix(report({cache_drift: 2, order_without_message: 1, consumed_failed: 0}), fixes({cache_drift: fixed(2)}))).toEqual(['order_without_message'])
  })
})

describe('fetchFailure (decision table)', () => {
  const failed = (cause: object) => Object.assign(new TypeError('fetch failed'), {cause})
  it.each([
    [{code: 'ECONNREFUSED'}, /connection refused .*rabbitmq_management/],
    [{code: 'ENOTFOUND'}, /^host not found$/],
    [{code: 'UND_ERR_CONNECT_TIMEOUT'}, /^no answer within 5000 ms$/],
    [{code: 'UND_ERR_SOCKET'}, /management port/],
    [{code: 'HPE_INVALID_CONSTANT'}, /management port/],
    [{code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate'}, /^TLS: self-signed certificate$/],
    [{code: 'EPROTO', message: 'write EPROTO 80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl3_record.c:350:'}, /^TLS: wrong version number$/],
    [{message: 'bad port'}, /^bad port$/],
  ])('%j', (cause, reason) => expect(fetchFailure(failed(cause), 5000)).toMatch(reason))
  it('a timeout of the whole request', () => expect(fetchFailure(Object.assign(new Error('t'), {name: 'TimeoutError'}), 10)).toBe('no answer within 10 ms'))
})

describe('describeTarget', () => {
  it('names host, port and database or vhost, never the user or password', () => {
    const config = {...DEFAULTS, mysql: {url: 'mysql://app:s3cret@db.prod:3307/shop'}, amqp: {url: 'amqps://u:p@mq.prod/orders%2Fv1'}, redis: {url: 'redis://:pw@cache:6380/2', keyPrefix: 'shop:'}}
    expect(describeTarget(config, 'mysql')).toBe('MySQL db.prod:3307/shop')
    expect(describeTarget(config, 'amqp')).toBe('RabbitMQ mq.prod:5671 vhost orders/v1')
    expect(describeTarget(config, 'redis')).toBe('Redis cache:6380/2 prefix shop:')
    expect(describeTarget(DEFAULTS, 'amqp')).toBe('RabbitMQ 127.0.0.1:5672 vhost /')
  })
})
