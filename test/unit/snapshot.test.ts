import {getEventListeners} from 'node:events'

import {describe, expect, it} from 'vitest'

import {parseListen} from '../../src/adapters/metrics-http.js'
import {DEFAULTS} from '../../src/config/defaults.js'
import {UsageError} from '../../src/core/errors.js'
import {deadLetterQueues} from '../../src/core/snapshot/broker.js'
import {ScrapeCache} from '../../src/core/snapshot/cache.js'
import {commonFragment, failureGroupOf, topFailureGroups} from '../../src/core/snapshot/failures.js'
import {percentile} from '../../src/core/snapshot/inbox.js'
import {judge, type Thresholds, thresholdsFrom} from '../../src/core/snapshot/judge.js'
import type {Part, QueueFigures, Snapshot} from '../../src/core/snapshot/model.js'
import {boundedDuration} from '../../src/core/snapshot/options.js'
import {Absent, PartReader} from '../../src/core/snapshot/part.js'
import {METRICS} from '../../src/render/metrics.js'
import {onKey, unlessStopped} from '../../src/render/top-live.js'
import {metricsRegistry, snapshotMetrics} from '../../src/render/top-metrics.js'
import {record, renderTop, sparkline} from '../../src/render/top.js'

const ok = <T>(data: T): Part<T> => ({state: 'ok', data, readAt: '2026-12-01T08:00:00.000Z', tookMs: 5})
const down = (error = 'cannot connect'): Part<never> => ({state: 'unreachable', data: null, readAt: null, error, tookMs: 1000})

function queue(name: string, over: Partial<QueueFigures> = {}): QueueFigures {
  return {name, deadLetter: false, exists: true, ready: 0, unacked: 0, consumers: 1, rates: {publish: 1, deliver: 1, ack: 1}, totals: {publish: 10, deliver: 9, ack: 9}, messages: 0, change: null, ...over}
}

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    at: '2026-12-01T08:00:00.000Z',
    tookMs: 12,
    outbox: ok({table: 'outbox', counts: {pending: 3, sent: 10, 'dead-letter': 0}, approximate: [], oldestPendingAgeMs: 1000, stuck: 0, stuckAfterMs: 300_000, sentLastMinute: 4, failureGroups: [], failureGroupsOf: 0}),
    broker: ok({vhost: '/', via: 'management', queues: [queue('orders.q')], alarms: [{node: 'rabbit@a', memory: false, disk: false}], blockedConnections: 0}),
    inbox: ok({table: 'inbox', receivedLastMinute: 2, failed: 0, failedApproximate: false, lag: {p50Ms: 100, p99Ms: 200, of: 2}}),
    reconcile: ok({last: null, lastSuccess: null}),
    locks: ok({locks: []}),
    ...over,
  }
}

const T: Thresholds = {pendingAgeMs: 300_000, deadLetterRows: 100, dlqMessages: 100, inboxLagP99Ms: 60_000, reconcileFindings: 1}

describe('failureGroupOf (the stand-in fingerprint)', () => {
  it.each([
    ['connection refused to 10.0.0.1:5672', 'connection refused to #.#:#'],
    ['order 6f1c2a0e-1b2c-4d5e-8f90-123456789abc not found', 'order <uuid> not found'],
    ['hash deadbeef12 mismatch', 'hash <hex> mismatch'],
    ['  timeout   after\t30s  ', 'timeout after #s'],
    ['first line\nstack at foo.js:10', 'first line'],
    [null, '(no error recorded)'],
    ['   ', '(no error recorded)'],
    ['x'.repeat(300), 'x'.repeat(120)],
  ])('%j is grouped as %j', (error, key) => expect(failureGroupOf(error)).toBe(key))

  it('counts groups largest first, ties by key, and keeps the top N with a sample', () => {
    const groups = topFailureGroups(['b 1', 'b 2', 'a 3', 'c', 'c', 'c', null], 3)
    expect(groups).toEqual([
      {key: 'c', count: 3, sample: 'c'},
      {key: 'b #', count: 2, sample: 'b 1'},
      {key: '(no error recorded)', count: 1, sample: ''},
    ])
  })

  it('takes the longest literal run of a key for --error-contains', () => {
    expect(commonFragment('connection refused to #.#:#')).toBe('connection refused to')
    expect(commonFragment('order <uuid> not found in the catalogue')).toBe('not found in the catalogue')
  })
})

describe('deadLetterQueues (its decision table)', () => {
  it('a queue bound to an exchange some queue dead-letters to', () => {
    const queues = [{name: 'orders.q', arguments: {'x-dead-letter-exchange': 'dlx'}}, {name: 'parking', arguments: {}}, {name: 'other', arguments: {}}]
    expect([...deadLetterQueues(queues, [{source: 'dlx', queue: 'parking'}, {source: 'orders', queue: 'orders.q'}])]).toEqual(['parking'])
  })

  it('the queue named by x-dead-letter-routing-key on the default exchange', () => {
    const queues = [{name: 'a', arguments: {'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'a.parked'}}, {name: 'a.parked', arguments: {}}]
    expect([...deadLetterQueues(queues, [])]).toEqual(['a.parked'])
  })

  it('by name only when nothing says where dead letters go', () => {
    const queues = ['orders.dlq', 'orders_dead_letter', 'billing.errors', 'orders.q', 'deadline'].map((name) => ({name, arguments: {}}))
    expect([...deadLetterQueues(queues, null)].sort()).toEqual(['billing.errors', 'orders.dlq', 'orders_dead_letter'])
    // Once arguments say where dead letters go, a name alone decides nothing.
    expect([...deadLetterQueues([...queues, {name: 'x', arguments: {'x-dead-letter-exchange': 'dlx'}}], [])]).toEqual([])
  })
})

describe('percentile (nearest rank)', () => {
  it('follows the nearest-rank rule', () => {
    const values = Array.from({length: 100}, (_, i) => i + 1)
    expect(percentile(values, 0.5)).toBe(50)
    expect(percentile(values, 0.99)).toBe(99)
    expect(percentile([7], 0.99)).toBe(7)
    expect(percentile([], 0.5)).toBe(0)
    expect(percentile([1, 2, 3], 0.5)).toBe(2)
  })
})

describe('judge (its decision table, a row each)', () => {
  const outbox = (age: number | null, dead: number, stuck: number | null = 0) =>
    ok({table: 'outbox', counts: {pending: 1, sent: 0, 'dead-letter': dead}, approximate: [], oldestPendingAgeMs: age, stuck, stuckAfterMs: 300_000, sentLastMinute: null, failureGroups: null, failureGroupsOf: 0})
  const levels = (s: Partial<Snapshot>) => judge(snapshot(s), T).levels

  it('oldest pending: warn above half, alert above the threshold', () => {
    expect(levels({outbox: outbox(100_000, 0)}).oldestPending).toBe('ok')
    expect(levels({outbox: outbox(200_000, 0)}).oldestPending).toBe('warn')
    expect(judge(snapshot({outbox: outbox(400_000, 0)}), T).alerts).toEqual(['the oldest pending outbox row is 6m 40s old (threshold 5m)'])
  })

  it('dead-letter rows: warn from 1, alert at the threshold; stuck rows only warn', () => {
    expect(levels({outbox: outbox(0, 1)}).deadLetters).toBe('warn')
    expect(levels({outbox: outbox(0, 100)}).deadLetters).toBe('alert')
    expect(levels({outbox: outbox(0, 0, 5)}).stuck).toBe('warn')
    expect(judge(snapshot({outbox: outbox(0, 0, 5)}), T).alerts).toEqual([])
  })

  it('queues: dead-letter depth and growth, a work queue without consumers, a missing queue', () => {
    const withQueues = (...queues: QueueFigures[]) => levels({broker: ok({vhost: '/', via: 'management', queues, alarms: null, blockedConnections: null})})
    expect(withQueues(queue('d', {deadLetter: true, messages: 0, change: 0}))['queue:d']).toBe('ok')
    expect(withQueues(queue('d', {deadLetter: true, messages: 0, change: 2}))['queue:d']).toBe('warn')
    expect(withQueues(queue('d', {deadLetter: true, messages: 5}))['queue:d']).toBe('warn')
    expect(withQueues(queue('d', {deadLetter: true, messages: 100}))['queue:d']).toBe('alert')
    expect(withQueues(queue('w', {consumers: 0, messages: 0}))['queue:w']).toBe('warn')
    expect(withQueues(queue('w', {consumers: 0, messages: 3}))['queue:w']).toBe('alert')
    expect(withQueues(queue('w', {exists: false}))['queue:w']).toBe('alert')
  })

  it('inbox lag and failed records; alarms and blocked connections', () => {
    const inbox = (p99Ms: number, failed = 0) => ok({table: 'inbox', receivedLastMinute: 0, failed, failedApproximate: false, lag: {p50Ms: 1, p99Ms, of: 10}})
    expect(levels({inbox: inbox(40_000)}).inboxLag).toBe('warn')
    expect(levels({inbox: inbox(70_000)}).inboxLag).toBe('alert')
    expect(levels({inbox: inbox(1, 2)}).inboxFailed).toBe('warn')
    expect(levels({broker: ok({vhost: '/', via: 'management', queues: [], alarms: [{node: 'n', memory: true, disk: false}], blockedConnections: 0})}).alarms).toBe('alert')
    expect(judge(snapshot({broker: ok({vhost: '/', via: 'management', queues: [], alarms: [], blockedConnections: 2})}), T).alerts).toEqual(['RabbitMQ 2 blocked connections'])
  })

  it('the last completed reconcile: findings alert; a newest run that failed warns', () => {
    const run = (exitCode: number, total: number) => ({id: '1', at: '2026-12-01T07:00:00.000Z', exitCode, durationMs: 1000, findings: {message_dead: total}, total, host: 'h'})
    expect(levels({reconcile: ok({last: run(1, 3), lastSuccess: run(1, 3)})}).reconcile).toBe('alert')
    expect(levels({reconcile: ok({last: run(2, 0), lastSuccess: run(0, 0)})}).reconcile).toBe('warn')
    expect(levels({reconcile: ok({last: run(0, 0), lastSuccess: run(0, 0)})}).reconcile).toBe('ok')
  })

  it('a source stale or unreachable only warns, and a figure without data is not judged', () => {
    const j = judge(snapshot({outbox: down(), broker: {...ok(snapshot().broker.data!), state: 'stale'}}), T)
    expect(j.levels['source:outbox']).toBe('warn')
    expect(j.levels['source:broker']).toBe('warn')
    expect(j.levels.oldestPending).toBeUndefined()
    expect(j.alerts).toEqual([])
  })

  it('takes top.thresholds and lets flags override them', () => {
    expect(thresholdsFrom(DEFAULTS)).toEqual({pendingAgeMs: 300_000, deadLetterRows: 100, dlqMessages: 100, inboxLagP99Ms: 60_000, reconcileFindings: 1})
    expect(thresholdsFrom(DEFAULTS, {dlqMessages: 1, pendingAgeMs: undefined}).dlqMessages).toBe(1)
    expect(thresholdsFrom(DEFAULTS, {dlqMessages: 1, pendingAgeMs: undefined}).pendingAgeMs).toBe(300_000)
  })
})

describe('PartReader (one part, its own timeout)', () => {
  it('ok, then stale with the last figures on a failure, unreachable when nothing was ever read, absent for nothing to read', async () => {
    let answer: () => Promise<number | Absent> = async () => 1
    const part = new PartReader(() => answer())
    expect(await part.take(1000)).toMatchObject({state: 'ok', data: 1})
    answer = async () => {
      throw new Error('cannot connect to MySQL')
    }
    expect(await part.take(1000)).toMatchObject({state: 'stale', data: 1, error: 'cannot connect to MySQL'})
    const fresh = new PartReader<number>(() => answer())
    expect(await fresh.take(1000)).toMatchObject({state: 'unreachable', data: null})
    answer = async () => new Absent('the inbox table "inbox" does not exist')
    expect(await fresh.take(1000)).toMatchObject({state: 'absent', error: 'the inbox table "inbox" does not exist'})
  })

  it('a read that outlasts its timeout is waited for again by the next take, never started twice', async () => {
    let reads = 0
    let finish!: (n: number) => void
    const part = new PartReader(() => {
      reads++
      return new Promise<number>((resolve) => (finish = resolve))
    })
    expect(await part.take(20)).toMatchObject({state: 'unreachable', error: 'no answer within 20 ms'})
    const second = part.take(5000)
    finish(7)
    expect(await second).toMatchObject({state: 'ok', data: 7})
    expect(reads).toBe(1)
    void part.take(10)
    expect(reads).toBe(2)
    finish(8)
  })
})

describe('ScrapeCache (its decision table)', () => {
  it('within min-interval: the last; after: a new one; a slow one: the last, stale; none yet and slow: none, stale', async () => {
    let now = 0
    let taken = 0
    let slow = false
    const take = () => {
      taken++
      const s = snapshot({tookMs: taken})
      return slow ? new Promise<Snapshot>((resolve) => setTimeout(() => resolve(s), 200)) : Promise.resolve(s)
    }
    const cache = new ScrapeCache(take, 5000, 50, () => now)
    expect((await cache.get()).snapshot?.tookMs).toBe(1)
    now = 4999
    expect(await cache.get()).toMatchObject({stale: false, snapshot: {tookMs: 1}})
    expect(taken).toBe(1)
    now = 5000
    expect(await cache.get()).toMatchObject({stale: false, snapshot: {tookMs: 2}})
    now = 20_000
    slow = true
    expect(await cache.get()).toMatchObject({stale: true, snapshot: {tookMs: 2}})
    // The slow one is shared by the scrapes that come while it runs.
    expect(await cache.get()).toMatchObject({stale: true})
    expect(taken).toBe(3)
    const empty = new ScrapeCache(() => new Promise<Snapshot>(() => {}), 5000, 20, () => 0)
    expect(await empty.get()).toEqual({snapshot: null, stale: true})
  })
})

describe('onKey (its decision table)', () => {
  const none = {paused: false, help: false, detail: false}
  const rows = {failures: 2, queues: 3}
  it('follows each row', () => {
    expect(onKey(none, {name: 'q'}, rows).action).toBe('quit')
    expect(onKey(none, {name: 'c', ctrl: true}, rows).action).toBe('ctrl-c')
    expect(onKey(none, {name: 'p'}, rows).state.paused).toBe(true)
    expect(onKey({...none, paused: true}, {name: 'p'}, rows).state.paused).toBe(false)
    expect(onKey(none, {name: 'r'}, rows).action).toBe('refresh')
    expect(onKey(none, {sequence: '?'}, rows).state.help).toBe(true)
    expect(onKey(none, {name: 'tab'}, rows).state.selected).toEqual({panel: 'failures', row: 0})
    expect(onKey({...none, selected: {panel: 'failures', row: 1}}, {name: 'tab'}, rows).state.selected).toEqual({panel: 'queues', row: 0})
    expect(onKey({...none, selected: {panel: 'queues', row: 0}}, {name: 'tab'}, {failures: 0, queues: 3}).state.selected).toEqual({panel: 'queues', row: 0})
    expect(onKey(none, {name: 'down'}, rows).state.selected).toEqual({panel: 'failures', row: 0})
    expect(onKey({...none, selected: {panel: 'queues', row: 2}}, {name: 'down'}, rows).state.selected).toEqual({panel: 'queues', row: 2})
    expect(onKey({...none, selected: {panel: 'queues', row: 2}}, {name: 'up'}, rows).state.selected).toEqual({panel: 'queues', row: 1})
    expect(onKey({...none, selected: {panel: 'queues', row: 0}}, {name: 'return'}, rows).state.detail).toBe(true)
    expect(onKey(none, {name: 'return'}, rows).state.detail).toBe(false)
    expect(onKey({...none, detail: true, selected: {panel: 'queues', row: 0}}, {name: 'escape'}, rows).state).toMatchObject({detail: false, selected: {panel: 'queues', row: 0}})
    expect(onKey({...none, selected: {panel: 'queues', row: 0}}, {name: 'escape'}, rows).state.selected).toBeUndefined()
    expect(onKey(none, {name: 'x'}, rows)).toEqual({state: none})
  })
})

describe('unlessStopped (the live loop\'s wait for a snapshot)', () => {
  it('leaves no listener on the stop signal after each read, and answers undefined at once when stopped', async () => {
    const stop = new AbortController()
    for (let i = 0; i < 20; i++) expect(await unlessStopped(Promise.resolve(i), stop.signal)).toBe(i)
    await expect(unlessStopped(Promise.reject(new Error('down')), stop.signal)).rejects.toThrow('down')
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
    const waiting = unlessStopped(new Promise<number>(() => {}), stop.signal)
    stop.abort()
    expect(await waiting).toBeUndefined()
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0)
  })
})

describe('renderTop', () => {
  const busy = () =>
    snapshot({
      outbox: ok({...snapshot().outbox.data!, failureGroups: Array.from({length: 5}, (_, i) => ({key: `error kind ${'abcde'[i]}`, count: 10 - i, sample: 's'})), failureGroupsOf: 40}),
      broker: ok({vhost: '/', via: 'management', queues: Array.from({length: 30}, (_, i) => queue(`queue.number.${i}`)), alarms: [], blockedConnections: 0}),
      reconcile: ok({last: {id: '1', at: '2026-12-01T07:00:00.000Z', exitCode: 1, durationMs: 1500, findings: {message_dead: 2}, total: 2, host: 'h'}, lastSuccess: null}),
      locks: ok({locks: [{name: 'drain', host: 'web-1', pid: 42, since: '2026-12-01T07:59:00.000Z', command: 'outbox:drain', ttlMs: 20_000}]}),
    })

  it('at 80×24 keeps every panel and fits the screen, giving queues what is left', () => {
    const s = busy()
    const lines = renderTop({snapshot: s, judgement: judge(s, T), history: record({backlog: [], oldestS: [], dlq: []}, s), width: 80, height: 23, intervalMs: 2000, live: true, color: false})
    expect(lines).toHaveLength(23)
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80)
    const text = lines.join('\n')
    for (const panel of ['OUTBOX', 'failure groups', 'QUEUES', 'INBOX', 'RECONCILE', 'LOCKS', 'q quit']) expect(text).toContain(panel)
    expect(text).toContain('queue.number.0')
    expect(text).toContain('(+')
    expect(text).toContain('drain: web-1/42 (outbox:drain)')
  })

  it('shows a source that is down, and the others', () => {
    const s = snapshot({broker: down('cannot reach the RabbitMQ management API')})
    const text = renderTop({snapshot: s, judgement: judge(s, T), history: {backlog: [], oldestS: [], dlq: []}, width: 100, height: Infinity, intervalMs: 2000, live: false, color: false}).join('\n')
    expect(text).toContain('QUEUES  UNREACHABLE: cannot reach the RabbitMQ management API')
    expect(text).toContain('pending 3')
    expect(text).not.toContain('q quit')
  })

  it('draws sparklines from the lowest to the highest value', () => {
    expect(sparkline([0, 7, 14], 10)).toBe('▁▅█')
    expect(sparkline([5, 5], 10)).toBe('▁▁')
    expect(sparkline([1, 2, 3, 4], 2)).toBe('▁█')
    expect(sparkline([], 5)).toBe('')
  })
})

describe('snapshot metrics', () => {
  it('every name is in the catalog and follows the conventions (base units, _total counters, HELP)', () => {
    for (const spec of Object.values(METRICS)) {
      expect(spec.name).toMatch(/^msgops_[a-z][a-z0-9_]*$/)
      expect(spec.help.length).toBeGreaterThan(10)
      if (spec.type === 'counter') expect(spec.name).toMatch(/_total$/)
      else expect(spec.name).not.toMatch(/_total$|_ms$|_milliseconds$/)
    }
    const s = snapshot({broker: ok({vhost: '/', via: 'management', queues: [queue('orders.q'), queue('orders.dlq', {deadLetter: true, messages: 4, ready: 4})], alarms: [], blockedConnections: 0})})
    const names = new Set(Object.values(METRICS).map((m) => m.name))
    for (const m of snapshotMetrics(s, {stale: false, taken: 1, nowMs: Date.parse(s.at)})) expect(names).toContain(m.name)
  })

  it('goes through prom-client with its values, and a stale answer says so', async () => {
    const s = snapshot({broker: ok({vhost: '/', via: 'management', queues: [queue('orders.dlq', {deadLetter: true, messages: 4, ready: 4})], alarms: [], blockedConnections: 0})})
    const registry = metricsRegistry(snapshotMetrics(s, {stale: true, taken: 3, nowMs: Date.parse(s.at)}))
    const json = await registry.getMetricsAsJSON()
    const value = (name: string, labels: Record<string, string> = {}) => json.find((m) => m.name === name)?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value
    expect(value('msgops_dlq_messages', {queue: 'orders.dlq'})).toBe(4)
    expect(value('msgops_outbox_rows', {status: 'pending'})).toBe(3)
    expect(value('msgops_inbox_processing_lag_seconds', {quantile: '0.99'})).toBe(0.2)
    expect(value('msgops_snapshot_stale')).toBe(1)
    expect(value('msgops_snapshots_total')).toBe(3)
    expect(await registry.metrics()).toContain('# HELP msgops_dlq_messages ')
  })
})

describe('flags of top and metrics serve', () => {
  it('parses --listen and refuses a bad one with a usage error', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({host: '127.0.0.1', port: 9464})
    expect(parseListen('[::1]:0')).toEqual({host: '::1', port: 0})
    expect(parseListen('localhost:80')).toEqual({host: 'localhost', port: 80})
    for (const bad of ['9464', '127.0.0.1', '127.0.0.1:99999', 'a b:1', ':9464']) expect(() => parseListen(bad)).toThrow(UsageError)
  })

  it('bounds durations, a bare number being seconds', () => {
    expect(boundedDuration('2', '--interval', 500, 3_600_000, '500ms to 1h')).toBe(2000)
    expect(boundedDuration('750ms', '--interval', 500, 3_600_000, '500ms to 1h')).toBe(750)
    expect(() => boundedDuration('0', '--interval', 500, 3_600_000, '500ms to 1h')).toThrow(/--interval 0 is out of range/)
    expect(() => boundedDuration('soon', '--interval', 500, 3_600_000, '500ms to 1h')).toThrow(UsageError)
  })
})

describe('examples/grafana and examples/prometheus', () => {
  it('use only metric names msgops writes', async () => {
    const {readFileSync} = await import('node:fs')
    const names = new Set(Object.values(METRICS).map((m) => m.name))
    for (const file of ['examples/grafana/msgops.json', 'examples/prometheus/alerts.yaml']) {
      const used = new Set(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').match(/msgops_[a-z0-9_]+/g))
      expect(used.size).toBeGreaterThan(5)
      for (const name of used) expect(names, `${file}: ${name}`).toContain(name)
    }
  })
})
