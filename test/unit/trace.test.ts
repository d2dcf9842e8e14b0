import {describe, expect, it} from 'vitest'

import {ANY_ID, TouchedIds, withIds, AUDIT_IDS} from '../../src/core/audit.js'
import type {PublisherPort} from '../../src/core/ports.js'
import {bindingMatches} from '../../src/core/trace/broker.js'
import {readIds} from '../../src/core/trace/ids.js'
import type {DeadLetterFound, TraceCache, TraceInbox, TraceOrder, TraceOutbox} from '../../src/core/trace/model.js'
import {TraceTally, timeline} from '../../src/core/trace/run.js'
import {decideVerdict, sh, since, type VerdictFacts} from '../../src/core/trace/verdict.js'

const HOUR = 3_600_000
const order = (o: Partial<TraceOrder> = {}): TraceOrder => ({id: 'o1', status: 'paid', messageId: 'm1', createdAt: null, updatedAt: null, ageMs: HOUR, unknown: [], ...o})
const message = (m: Partial<TraceOutbox> = {}): TraceOutbox => ({
  id: 'm1', state: 'sent', status: 'sent', aggregateId: 'o1', eventType: null, exchange: 'orders.x', routingKey: 'order.paid', attempts: 1, lastError: null,
  createdAt: null, availableAt: null, sentAt: null, ageMs: HOUR, sentAgeMs: HOUR, unknown: [], ...m,
})
const record = (r: Partial<TraceInbox> = {}): TraceInbox => ({messageId: 'm1', consumer: 'billing', state: 'processed', status: 'processed', attempts: 0, lastError: null, receivedAt: null, processedAt: null, ageMs: HOUR, unknown: [], ...r})
const equal: TraceCache = {state: 'equal', key: 'order:o1', value: 'paid', expected: 'paid'}
const letter: DeadLetterFound = {messageId: 'm1', queue: 'orders.q.dlq', reason: 'rejected', from: 'orders.q', at: '2026-12-01T12:01:09.000Z', deaths: 1, error: null}

function facts(f: Partial<VerdictFacts> = {}): VerdictFacts {
  return {
    kind: 'order', order: order(), linkable: true, orderMissing: false, outbox: [message()], inbox: [record(), record({consumer: 'shipping'})], cache: equal,
    dlq: {state: 'not_read', queues: [], read: 0, found: []}, graceMs: 5 * 60_000, ...f,
  }
}

describe('decideVerdict: one test per row of its table', () => {
  it('1 nothing has the id: not_found', () => {
    expect(decideVerdict(facts({kind: 'none', order: null, outbox: [], inbox: []})).state).toBe('not_found')
  })
  it('2 an order without outbox row: no_message, no repair', () => {
    const d = decideVerdict(facts({outbox: [], inbox: []}))
    expect(d).toMatchObject({state: 'no_message', repair: []})
  })
  it('3 an order, nothing links orders to outbox rows: unknown, naming what to map', () => {
    const d = decideVerdict(facts({outbox: [], inbox: [], linkable: false}))
    expect(d.state).toBe('unknown')
    expect(d.text).toMatch(/orders\.columns\.messageId/)
  })
  it('4 a message whose order does not exist: no_order naming the order', () => {
    const d = decideVerdict(facts({kind: 'message', order: null, orderMissing: true}))
    expect(d).toMatchObject({state: 'no_order'})
    expect(d.text).toContain('o1')
  })
  it('5 inbox records without outbox row: unknown (orphan consumed)', () => {
    const d = decideVerdict(facts({kind: 'message', order: null, outbox: []}))
    expect(d.state).toBe('unknown')
    expect(d.text).toMatch(/orphan/)
  })
  it('6 dead-letter row: requeue then drain', () => {
    const d = decideVerdict(facts({outbox: [message({state: 'dead-letter', status: 'dead_letter', attempts: 10, lastError: 'NO_ROUTE'})], inbox: []}))
    expect(d.state).toBe('dead_letter')
    expect(d.text).toContain('10 attempts')
    expect(d.repair).toEqual(['msgops outbox requeue --message-id m1', 'msgops outbox drain'])
  })
  it('7 pending within the grace period: in_flight', () => {
    expect(decideVerdict(facts({outbox: [message({state: 'pending', ageMs: 10_000})], inbox: []})).state).toBe('in_flight')
  })
  it('8 pending past the grace period (or of unknown age): stuck, with age, attempts and error; reconcile drains it', () => {
    const d = decideVerdict(facts({outbox: [message({state: 'pending', ageMs: 3 * HOUR + 12 * 60_000, attempts: 4, lastError: 'NO_ROUTE'})], inbox: []}))
    expect(d.state).toBe('stuck')
    expect(d.text).toBe('stuck: pending for 3h 12m, 4 attempts, last error NO_ROUTE')
    expect(d.repair).toEqual(['msgops reconcile --check message_stuck --fix --since 4h'])
    const unknownAge = decideVerdict(facts({outbox: [message({state: 'pending', ageMs: null, attempts: null})], inbox: []}))
    expect(unknownAge.state).toBe('stuck')
    expect(unknownAge.text).toMatch(/unknown/)
  })
  it('9 a status none of the three: unknown', () => {
    expect(decideVerdict(facts({outbox: [message({state: 'other', status: '7'})]})).state).toBe('unknown')
  })
  it('10 sent, no inbox table: unknown', () => {
    expect(decideVerdict(facts({inbox: null})).state).toBe('unknown')
  })
  it('11 sent, one of two consumers failed: consume_failed; replay when it is in a DLQ', () => {
    const d = decideVerdict(facts({inbox: [record(), record({consumer: 'shipping', state: 'failed', status: 'failed', lastError: 'timeout'})]}))
    expect(d.state).toBe('consume_failed')
    expect(d.text).toContain('shipping recorded it failed (timeout), 1 of 2 consumers processed it')
    expect(d.repair).toEqual([])
    const inDlq = decideVerdict(facts({inbox: [record({state: 'failed', status: 'failed'})], dlq: {state: 'found', queues: ['orders.q.dlq'], read: 1, found: [letter]}}))
    expect(inDlq.repair).toEqual(['msgops dlq replay orders.q.dlq --message-id m1'])
  })
  it('12 received, never processed, past the grace period: consume_failed', () => {
    expect(decideVerdict(facts({inbox: [record({state: 'received', status: 'received', ageMs: HOUR})]})).state).toBe('consume_failed')
  })
  it('13 received, not processed yet, within the grace period: in_flight', () => {
    expect(decideVerdict(facts({inbox: [record({state: 'received', status: 'received', ageMs: 1000})]})).state).toBe('in_flight')
  })
  it('14 a consumer record of another status: unknown', () => {
    expect(decideVerdict(facts({inbox: [record({state: 'other', status: '9'})]})).state).toBe('unknown')
  })
  it('15 every consumer processed it (and 23 the cache equal): consistent', () => {
    expect(decideVerdict(facts())).toEqual({state: 'consistent', text: 'consistent: consumed by 2 of 2 consumers, cache matches', repair: []})
  })
  it('16 sent, no consumer, found in a dead-letter queue: dead_lettered, replay from that queue', () => {
    const d = decideVerdict(facts({inbox: [], dlq: {state: 'found', queues: ['orders.q.dlq'], read: 3, found: [letter]}}))
    expect(d.state).toBe('dead_lettered')
    expect(d.text).toBe('sent 1h ago but no consumer recorded it; found in orders.q.dlq: rejected by orders.q at 12:01:09Z')
    expect(d.repair).toEqual(['msgops dlq replay orders.q.dlq --message-id m1'])
  })
  it('17 sent within the grace period, no consumer yet: in_flight', () => {
    expect(decideVerdict(facts({inbox: [], outbox: [message({sentAgeMs: 2000})]})).state).toBe('in_flight')
  })
  it('18 sent, no consumer, not in the DLQ (or not read): not_consumed, saying how much was read', () => {
    const d = decideVerdict(facts({inbox: [], dlq: {state: 'absent', queues: ['orders.q.dlq'], read: 4, found: []}}))
    expect(d.state).toBe('not_consumed')
    expect(d.text).toContain('not in orders.q.dlq (4 dead letters read)')
    expect(d.repair[0]).toBe('msgops reconcile --check sent_not_consumed --fix --since 2h')
    expect(decideVerdict(facts({inbox: [], dlq: {state: 'partial', queues: ['q.dlq'], read: 10, found: []}})).text).toContain('first 10 messages of q.dlq')
    expect(decideVerdict(facts({inbox: [], dlq: {state: 'not_read', why: 'no dead-letter queue known', queues: [], read: 0, found: []}})).text).toContain('not read: no dead-letter queue known')
  })
  it('19 consistent messages, order changed within the grace period, cache drifted: in_flight', () => {
    expect(decideVerdict(facts({order: order({ageMs: 1000}), cache: {state: 'missing', key: 'order:o1', value: null, expected: 'paid'}})).state).toBe('in_flight')
  })
  it('20 cache missing: cache_missing, with reconcile cache_drift as the repair', () => {
    const d = decideVerdict(facts({cache: {state: 'missing', key: 'order:o1', value: null, expected: 'paid'}}))
    expect(d.state).toBe('cache_missing')
    expect(d.repair).toEqual(['msgops reconcile --check cache_drift --fix --since 2h'])
  })
  it('21 cache holds another value: cache_different, with both values', () => {
    const d = decideVerdict(facts({cache: {state: 'different', key: 'order:o1', value: 'created', expected: 'paid'}}))
    expect(d.state).toBe('cache_different')
    expect(d.text).toContain('order:o1 holds created and the order paid')
  })
  it('22 cache key unreadable: cache_unreadable', () => {
    expect(decideVerdict(facts({cache: {state: 'unreadable', key: 'order:o1', value: null, expected: 'paid', reason: 'wrong Redis type'}})).state).toBe('cache_unreadable')
  })
  it('23 cache not comparable: consistent, saying why it was not compared', () => {
    const d = decideVerdict(facts({cache: {state: 'unknown', key: null, value: null, expected: null, reason: 'the orders table has no status column to compare with'}}))
    expect(d.state).toBe('consistent')
    expect(d.text).toContain('cache not compared (the orders table has no status column')
  })
  it('an order with several messages takes the worst one, naming it', () => {
    const d = decideVerdict(facts({outbox: [message(), message({id: 'm2', state: 'dead-letter'})], inbox: [record(), record({consumer: 'shipping'})]}))
    expect(d.state).toBe('dead_letter')
    expect(d.text).toContain('(message m2, 1 more)')
  })
})

describe('since and sh', () => {
  it('rounds an age and its margin up to a whole unit', () => {
    expect(since(null)).toBe('')
    expect(since(12 * 60_000 + 1)).toBe(' --since 15m')
    expect(since(3 * HOUR)).toBe(' --since 4h')
    expect(since(3 * 24 * HOUR)).toBe(' --since 4d')
  })
  it('quotes what a shell would read otherwise', () => {
    expect(sh('m-1.a')).toBe('m-1.a')
    expect(sh("1' OR '1'='1")).toBe(`'1'\\'' OR '\\''1'\\''='\\''1'`)
  })
})

describe('bindingMatches', () => {
  it.each([
    ['fanout', 'x', 'anything', true],
    ['direct', 'order.paid', 'order.paid', true],
    ['direct', 'order.paid', 'order.created', false],
    ['topic', 'order.#', 'order.paid.eu', true],
    ['topic', 'order.#', 'order', true],
    ['topic', 'order.*', 'order.paid.eu', false],
    ['topic', '*.paid', 'order.paid', true],
    ['topic', '#', '', true],
    ['headers', '', 'order.paid', false],
  ])('%s %s routes %s: %s', (type, binding, key, routed) => {
    expect(bindingMatches(type, binding, key)).toBe(routed)
  })
})

async function collect(chunks: (string | Buffer)[]): Promise<string[]> {
  const out: string[] = []
  async function* source() {
    yield* chunks
  }
  for await (const id of readIds(source(), 'ids file x')) out.push(id)
  return out
}

describe('readIds', () => {
  it('streams one id per line across chunk borders, trimming, skipping blanks and comments, CRLF and a BOM accepted', async () => {
    expect(await collect(['\uFEFFo1\r\n  m2 \n\n# a comment\no', '3\n', "1' OR '1'='1"])).toEqual(['o1', 'm2', 'o3', "1' OR '1'='1"])
  })
  it('refuses a file without an id', async () => {
    await expect(collect([''])).rejects.toThrow('ids file x holds no ids')
    await expect(collect(['\n  \n# only a comment\n'])).rejects.toThrow('holds no ids')
  })
  it('names a line that is not UTF-8', async () => {
    await expect(collect(['o1\n', Buffer.from([0x6f, 0xff, 0xfe, 0x0a])])).rejects.toThrow('ids file x line 2 is not UTF-8 text')
  })
  it('refuses a line too long to be an id without holding it all', async () => {
    await expect(collect(['o1\n', 'x'.repeat(2000)])).rejects.toThrow(/line 2 is 2000 bytes long/)
  })
})

describe('TouchedIds', () => {
  it('records each (id, action) once up to its limit, counts the rest and marks them with a * row', () => {
    const t = new TouchedIds(3).add('drain', ['a', 'b', 'a']).add('requeue', ['a', 'c', 'd'])
    expect(t.summary()).toEqual({drain: {touched: 2, recorded: 2}, requeue: {touched: 3, recorded: 1}})
    const rows = [...t.rows('7', 2)]
    expect(rows.map((r) => r.length)).toEqual([2, 2])
    expect(rows.flat()).toEqual([['a', '7', 'drain'], ['a', '7', 'requeue'], ['b', '7', 'drain'], [ANY_ID, '7', 'requeue']])
  })
  it('counts what a caller says it touched beyond the ids it lists', () => {
    expect(new TouchedIds().add('reconcile:cache_drift', ['o1', 'o2'], 5000).summary()).toEqual({'reconcile:cache_drift': {touched: 5000, recorded: 2}})
  })
  it('records the message ids the broker answered for, by answer, keeping missingExchanges', async () => {
    const t = new TouchedIds()
    const inner: PublisherPort = {
      publishBatch: async (messages) => messages.map((_m, n) => (n === 0 ? {status: 'confirmed'} : {status: 'returned', reason: 'NO_ROUTE'})),
      missingExchanges: async () => new Set(['gone']),
      close: async () => {},
    }
    const wrapped = t.publisher(inner, 'drain')
    await wrapped.publishBatch([{exchange: 'x', routingKey: 'k', body: Buffer.from('{}'), properties: {messageId: 'm1'}}, {exchange: 'x', routingKey: 'k', body: Buffer.from('{}'), properties: {messageId: 'm2'}}])
    expect(await wrapped.missingExchanges!(['gone'])).toEqual(new Set(['gone']))
    expect(t.summary()).toEqual({drain: {touched: 1, recorded: 1}, 'drain:returned': {touched: 1, recorded: 1}})
  })
  it('travels with the outcome under a symbol, never in its JSON', () => {
    const outcome = withIds({published: 1}, new TouchedIds().add('drain', ['m1']))
    expect(JSON.stringify({...outcome})).toBe('{"published":1}')
    expect(({...outcome} as Record<symbol, unknown>)[AUDIT_IDS]).toBeInstanceOf(TouchedIds)
  })
})

describe('timeline and tally', () => {
  it('sorts steps by time, ties in pipeline order, steps without time last', () => {
    const t = {
      id: 'o1', kind: 'order' as const, order: order({createdAt: '2026-12-01T12:00:00.000Z'}), outbox: [message({createdAt: '2026-12-01T12:00:00.000Z', sentAt: '2026-12-01T12:01:07.000Z'})],
      audit: [], inbox: [record({receivedAt: '2026-12-01T12:01:08.000Z', processedAt: '2026-12-01T12:01:08.000Z'})], cache: equal,
      broker: {queues: [], deadLetterQueues: [], dlq: {state: 'not_read' as const, read: 0, found: []}, notes: []}, timeline: [], verdict: {state: 'consistent' as const, text: ''}, repair: [], notes: [],
    }
    expect(timeline(t).map((e) => e.event)).toEqual(['committed', 'committed', 'sent', 'received', 'consumed', 'cached'])
  })
  it('names the ids found nowhere in one line, the first ten and how many more', () => {
    const tally = new TraceTally()
    for (let n = 0; n < 12; n++) tally.add({id: `x${n}`, verdict: {state: 'not_found', text: ''}} as never)
    tally.add({id: 'o1', verdict: {state: 'stuck', text: ''}} as never)
    expect(tally.counts).toEqual({not_found: 12, stuck: 1})
    expect(tally.unhealthy).toBe(1)
    expect(tally.notFoundError()!.message).toBe('12 ids exist nowhere: "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9" and 2 more')
  })
})
