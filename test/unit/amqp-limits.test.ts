import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {HEADERS_TABLE_BYTES, publishLimitError, SHORT_STRING_BYTES} from '../../src/core/amqp-limits.js'
import type {OutgoingMessage} from '../../src/core/ports.js'

// amqplib's own encoder: the sizes computed by the check must be the ones it writes.
const require = createRequire(import.meta.url)
const {encodeTable} = require(join(dirname(require.resolve('amqplib')), 'lib', 'codec.js')) as {encodeTable(buffer: Buffer, value: unknown, offset: number): number}

const message = (over: Partial<OutgoingMessage> & {properties?: OutgoingMessage['properties']} = {}): OutgoingMessage => ({
  exchange: 'orders', routingKey: 'order.created', body: Buffer.from('{}'), ...over, properties: {messageId: 'm1', ...over.properties},
})

describe('publishLimitError (the table of limits, at each boundary in bytes)', () => {
  it.each([
    ['exchange', (s: string) => message({exchange: s})],
    ['routing key', (s: string) => message({routingKey: s})],
    ['messageId', (s: string) => message({properties: {messageId: s}})],
    ['type', (s: string) => message({properties: {type: s}})],
    ['correlationId', (s: string) => message({properties: {correlationId: s}})],
    ['header name', (s: string) => message({properties: {headers: {[s]: 1}}})],
    ['nested header name', (s: string) => message({properties: {headers: {trace: {[s]: 'x'}}}})],
  ])('%s: 255 bytes pass, 256 do not; counted in bytes, not characters', (what, make) => {
    expect(publishLimitError(make('a'.repeat(SHORT_STRING_BYTES)))).toBeNull()
    expect(publishLimitError(make('a'.repeat(SHORT_STRING_BYTES + 1)))).toMatch(/256 bytes, above AMQP's 255-byte limit/)
    // 128 two-byte characters are 256 bytes.
    expect(publishLimitError(make('é'.repeat(128)))).toMatch(/256 bytes/)
    expect(publishLimitError(make('é'.repeat(127)))).toBeNull()
  })

  it('the headers table: up to 65,536 encoded bytes pass, one more does not', () => {
    // 4 (table) + 1 + 1 (key "k") + 1 + 4 (string tag and length) = 11 bytes around the value.
    const fits = {k: 'x'.repeat(HEADERS_TABLE_BYTES - 11)}
    expect(encodeTable(Buffer.alloc(1 << 20), fits, 0)).toBe(HEADERS_TABLE_BYTES)
    expect(publishLimitError(message({properties: {headers: fits}}))).toBeNull()
    expect(publishLimitError(message({properties: {headers: {k: 'x'.repeat(HEADERS_TABLE_BYTES - 10)}}}))).toMatch(/65537 bytes, above the 65536-byte limit/)
  })

  it('computes the size amqplib writes, for every kind of JSON value', () => {
    const tables = [
      {a: 1, b: -129, c: 40_000, d: 3_000_000_000, e: 1.5, f: true, g: null, h: 'text', i: [1, 'two', [3], {x: false}], j: {k: {l: 'deep'}}},
      {'ключ': 'значение', emoji: '🚀', big: 2 ** 60, neg: -(2 ** 40)},
      {},
    ]
    for (const headers of tables) {
      const m = message({properties: {headers}})
      expect(publishLimitError(m)).toBeNull()
      const written = encodeTable(Buffer.alloc(1 << 20), headers, 0)
      // The check agrees with the encoder at the limit: pad the table to exactly the limit and one byte past it.
      const pad = HEADERS_TABLE_BYTES - written - 7
      expect(publishLimitError(message({properties: {headers: {...headers, p: 'x'.repeat(pad)}}}))).toBeNull()
      expect(publishLimitError(message({properties: {headers: {...headers, p: 'x'.repeat(pad + 1)}}}))).toMatch(/above the 65536-byte limit/)
    }
  })

  it('a value AMQP cannot carry is named by its path', () => {
    expect(publishLimitError(message({properties: {headers: {a: {b: () => 1}}}}))).toBe('the header headers.a.b holds a function, which AMQP cannot carry')
    expect(publishLimitError(message({properties: {headers: {'x-death': [{queue: 'q'}, {count: Symbol('n')}]}}}))).toBe('the header headers.x-death[1].count holds a symbol, which AMQP cannot carry')
    expect(publishLimitError(message({properties: {headers: {list: [{['k'.repeat(300)]: 1}]}}}))).toMatch(/^the header name headers\.list\[0\]\.kkkk/)
  })
})
