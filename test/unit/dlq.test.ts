import {describe, expect, it} from 'vitest'

import {bodyPreview, describeLetter, errorText, firstDeath, groupKey, jsonSafe, readDeaths, replayCountOf} from '../../src/core/dlq/deaths.js'
import {decideReplay, filtersFromInput, globToRegExp, matcher, replayMessage, returnKey, targetOf} from '../../src/core/dlq/decide.js'
import type {DeadLetter} from '../../src/core/dlq/ports.js'
import {archiveLine} from '../../src/core/dlq/purge.js'

const T0 = 1_700_000_000
const ts = (s: number) => ({'!': 'timestamp', value: s})

/** Headers as amqplib decodes them after order_queue rejected a message published to order_exchange. */
function letter(headers: Record<string, unknown> = {}, extra: Partial<DeadLetter['properties']> = {}): DeadLetter {
  return {
    tag: 1,
    body: Buffer.from('{"order":1}'),
    redelivered: false,
    properties: {
      messageId: 'm-1',
      contentType: 'application/json',
      ...extra,
      headers: {
        'x-first-death-exchange': 'order_exchange',
        'x-first-death-queue': 'order_queue',
        'x-first-death-reason': 'rejected',
        'x-death': [
          {count: 1, reason: 'expired', queue: 'order_retry', time: ts(T0 + 60), exchange: 'order_exchange.dlx', 'routing-keys': ['order.created']},
          {count: 2, reason: 'rejected', queue: 'order_queue', time: ts(T0), exchange: 'order_exchange', 'routing-keys': ['order.created', 'cc.key']},
        ],
        ...headers,
      },
    },
  }
}

describe('x-death parsing', () => {
  it('reads every entry and picks the first death from x-first-death-*', () => {
    const l = letter()
    const deaths = readDeaths(l.properties.headers)
    expect(deaths).toHaveLength(2)
    expect(deaths[1]).toMatchObject({reason: 'rejected', queue: 'order_queue', exchange: 'order_exchange', routingKeys: ['order.created', 'cc.key'], count: 2})
    expect(deaths[1].time?.toISOString()).toBe(new Date(T0 * 1000).toISOString())
    expect(firstDeath(l.properties.headers)?.queue).toBe('order_queue')
  })

  it('falls back to the oldest entry without x-first-death headers, and survives junk', () => {
    expect(firstDeath({'x-death': [{reason: 'maxlen', queue: 'b'}, {reason: 'expired', queue: 'a'}]})?.queue).toBe('a')
    expect(readDeaths({'x-death': 'nonsense'})).toEqual([])
    expect(readDeaths({'x-death': [null, 3, {reason: Buffer.from('rejected'), queue: 'q'}]})).toMatchObject([{reason: 'rejected', queue: 'q', routingKeys: [], count: 1}])
    expect(readDeaths(undefined)).toEqual([])
  })

  it('describes a letter: original target, newest death time, total deaths, group', () => {
    const facts = describeLetter(letter({'x-exception': 'java.lang.IllegalStateException: stock\n\tat Foo.bar'}), ['x-exception'])
    expect(facts).toMatchObject({messageId: 'm-1', reason: 'rejected', queue: 'order_queue', exchange: 'order_exchange', routingKey: 'order.created', deaths: 3, replayCount: 0})
    expect(facts.error).toBe('java.lang.IllegalStateException: stock')
    expect(facts.diedAt?.getTime()).toBe((T0 + 60) * 1000)
    expect(facts.group).toBe(groupKey({reason: 'rejected', queue: 'order_queue', exchange: 'order_exchange', routingKey: 'order.created', error: 'java.lang.IllegalStateException: stock'}))
  })

  it('a message without x-death is its own group with no target', () => {
    const facts = describeLetter({tag: 1, body: Buffer.alloc(0), redelivered: false, properties: {timestamp: T0}}, [])
    expect([facts.reason, facts.exchange, facts.routingKey, facts.deaths]).toEqual(['none', undefined, undefined, 0])
    expect(facts.diedAt?.getTime()).toBe(T0 * 1000)
    expect(targetOf(facts)).toBeUndefined()
  })

  it('groups differ by error text and by routing key, and keys are stable', () => {
    const base = {reason: 'rejected', queue: 'q', exchange: 'e', routingKey: 'k'}
    expect(groupKey(base)).toBe(groupKey({...base}))
    expect(groupKey(base)).not.toBe(groupKey({...base, error: 'boom'}))
    expect(groupKey(base)).not.toBe(groupKey({...base, routingKey: 'k2'}))
    expect(groupKey(base)).toMatch(/^[0-9a-f]{8}$/)
  })

  it('error header: first configured one present wins; byte arrays read as text', () => {
    expect(errorText({'x-a': '', 'x-b': Buffer.from('bad thing')}, ['x-a', 'x-b'])).toBe('bad thing')
    expect(errorText({}, ['x-a'])).toBeUndefined()
  })

  it('replay count reads numbers and text, anything else is 0', () => {
    expect(replayCountOf({'x-msgops-replay-count': 3})).toBe(3)
    expect(replayCountOf({'x-msgops-replay-count': '4'})).toBe(4)
    expect(replayCountOf({'x-msgops-replay-count': 'x'})).toBe(0)
    expect(replayCountOf(undefined)).toBe(0)
  })

  it('makes headers JSON-safe and previews bodies', () => {
    expect(jsonSafe({t: ts(T0), b: Buffer.from('hi'), n: [1, {x: Buffer.from('y')}]})).toEqual({t: new Date(T0 * 1000).toISOString(), b: 'hi', n: [1, {x: 'y'}]})
    expect(bodyPreview(Buffer.from('hello world'), 5)).toEqual({text: 'hello', encoding: 'utf8', truncated: true})
    expect(bodyPreview(Buffer.from([0xff, 0xfe]), 50)).toEqual({text: '//4=', encoding: 'base64', truncated: false})
    expect(bodyPreview(Buffer.from([0, 1, 2]), 50).encoding).toBe('base64')
    expect(bodyPreview(Buffer.from('a\tb\nc'), 50).encoding).toBe('utf8')
  })
})

describe('filters', () => {
  const now = () => (T0 + 3600) * 1000
  const run = (input: Parameters<typeof filtersFromInput>[0], l = letter()) => matcher(filtersFromInput(input), now)(l, describeLetter(l, []))

  it('glob: * any run, ? one character, other characters literal', () => {
    expect(globToRegExp('order.*').test('order.created')).toBe(true)
    expect(globToRegExp('order.*').test('orderXcreated')).toBe(false)
    expect(globToRegExp('order.?aid').test('order.paid')).toBe(true)
  })

  it('every given filter must match', () => {
    expect(run({})).toBe(true)
    expect(run({routingKey: 'order.*', reasons: ['rejected'], messageIds: ['m-1', 'm-2']})).toBe(true)
    expect(run({routingKey: 'order.paid'})).toBe(false)
    expect(run({reasons: ['expired']})).toBe(false)
    expect(run({messageIds: ['m-2']})).toBe(false)
    expect(run({headers: ['x-tenant=acme']}, letter({'x-tenant': Buffer.from('acme')}))).toBe(true)
    expect(run({headers: ['x-tenant=acme', 'x-region=eu']}, letter({'x-tenant': 'acme'}))).toBe(false)
  })

  it('--older-than compares with the newest death', () => {
    expect(run({olderThanMs: 59 * 60_000})).toBe(true)
    expect(run({olderThanMs: 60 * 60_000})).toBe(false)
  })

  it('refuses input that can never match', () => {
    expect(() => filtersFromInput({headers: ['novalue']})).toThrow(/name=value/)
    expect(() => filtersFromInput({reasons: ['timeout']})).toThrow(/not a dead-letter reason/)
    expect(() => filtersFromInput({groups: ['order.created']})).toThrow(/not a group key/)
  })
})

describe('the replay decision table', () => {
  const facts = describeLetter(letter(), [])
  const looped = describeLetter(letter({'x-msgops-replay-count': 5}), [])
  const orphan = describeLetter({tag: 1, body: Buffer.alloc(0), redelivered: false, properties: {}}, [])

  it.each([
    ['no match → leave', facts, false, undefined, {action: 'leave'}],
    ['no match even at the limit → leave', looped, false, undefined, {action: 'leave'}],
    ['at --max-replays → skip', looped, true, undefined, {action: 'skip', why: 'max-replays'}],
    ['no x-death, no override → skip', orphan, true, undefined, {action: 'skip', why: 'no-target'}],
    ['no x-death, --to-queue → move', orphan, true, {queue: 'retry'}, {action: 'move', target: {exchange: '', routingKey: 'retry'}}],
    ['x-death → move to the original', facts, true, undefined, {action: 'move', target: {exchange: 'order_exchange', routingKey: 'order.created'}}],
    ['--to-exchange keeps the original key', facts, true, {exchange: 'other'}, {action: 'move', target: {exchange: 'other', routingKey: 'order.created'}}],
    ['--to-exchange --to-routing-key', facts, true, {exchange: 'other', routingKey: 'k'}, {action: 'move', target: {exchange: 'other', routingKey: 'k'}}],
  ] as const)('%s', (_name, f, matches, override, expected) => {
    expect(decideReplay(f, matches, {maxReplays: 5, override})).toEqual(expected)
  })

  it('republishes body and properties unchanged plus the replay stamp', () => {
    const l = letter({'x-msgops-replay-count': 1})
    const message = replayMessage(l, describeLetter(l, []), {exchange: 'order_exchange', routingKey: 'order.created'}, new Date(T0 * 1000))
    expect(message.body).toBe(l.body)
    expect(message.properties.messageId).toBe('m-1')
    expect(message.properties.contentType).toBe('application/json')
    expect(message.properties.headers?.['x-msgops-replay-count']).toBe(2)
    expect(message.properties.headers?.['x-msgops-replayed-at']).toBe(new Date(T0 * 1000).toISOString())
    expect(message.properties.headers?.['x-death']).toBe(l.properties.headers?.['x-death'])
    expect(l.properties.headers?.['x-msgops-replay-count']).toBe(1)
  })

  it('return keys tell apart what the publisher could confuse', () => {
    const a = replayMessage(letter(), facts, {exchange: 'e', routingKey: 'k'}, new Date())
    const b = replayMessage(letter({}, {messageId: 'm-2'}), facts, {exchange: 'e', routingKey: 'k'}, new Date())
    expect(returnKey(a)).toBe(returnKey({...a}))
    expect(returnKey(a)).not.toBe(returnKey(b))
  })
})

describe('archive lines', () => {
  it('keep everything needed to republish, binary bodies as base64', () => {
    const line = JSON.parse(archiveLine('dlq', letter(), new Date(T0 * 1000)))
    expect(line).toMatchObject({queue: 'dlq', messageId: 'm-1', bodyEncoding: 'utf8', body: '{"order":1}'})
    expect(line.properties.contentType).toBe('application/json')
    expect(line.headers['x-first-death-queue']).toBe('order_queue')
    const binary = JSON.parse(archiveLine('dlq', {...letter(), body: Buffer.from([0, 0xff])}, new Date()))
    expect([binary.bodyEncoding, binary.body]).toEqual(['base64', 'AP8='])
  })
})

describe('deliveryLimitRisk (decision table)', () => {
  it('a quorum queue with a delivery limit is refused; one without, a classic one and an unknown one are read', async () => {
    const {deliveryLimitRisk} = await import('../../src/core/dlq/delivery-limit.js')
    expect(deliveryLimitRisk({type: 'quorum', deliveryLimit: 2}, 'q.dlq').refuse).toMatch(/^q\.dlq is a quorum queue with a delivery limit of 2/)
    expect(deliveryLimitRisk({type: 'quorum', deliveryLimit: null}, 'q.dlq').refuse).toBeNull()
    expect(deliveryLimitRisk({type: 'classic', deliveryLimit: 5}, 'q.dlq').refuse).toBeNull()
    expect(deliveryLimitRisk({type: 'stream', deliveryLimit: null}, 'q.dlq').refuse).toBeNull()
    expect(deliveryLimitRisk(null, 'q.dlq').refuse).toBeNull()
  })
})
