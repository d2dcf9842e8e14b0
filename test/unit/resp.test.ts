import {describe, expect, it} from 'vitest'

import {CompareReader, encodeCommands, encodeKeyCommands} from '../../src/adapters/resp.js'

const b = (s: string) => Buffer.from(s, 'utf8')

/** Feeds the bytes to a reader in chunks cut at the given positions, carrying the unread rest like the connection does. */
function readInChunks(reader: CompareReader, bytes: Buffer, cuts: number[]): number {
  let rest = Buffer.alloc(0)
  let last = 0
  for (const cut of [...cuts, bytes.length]) {
    const buf = Buffer.concat([rest, bytes.subarray(last, cut)])
    last = cut
    const pos = reader.feed(buf, 0)
    rest = buf.subarray(pos)
  }
  return rest.length
}

describe('CompareReader (RESP replies compared in place)', () => {
  const mget = b('*5\r\n$4\r\npaid\r\n$-1\r\n$7\r\ncreated\r\n$5\r\npayé\r\n$0\r\n\r\n')
  const expected = [b('paid'), b('paid'), b('paid'), b('payé'), null]
  const want = [null, {state: 'missing'}, {state: 'value', value: 'created'}, null, {state: 'value', value: ''}]

  it('reads an MGET array: null for the expected bytes, the value otherwise, missing for nil', () => {
    const reader = new CompareReader(expected, true)
    expect(reader.feed(mget, 0)).toBe(mget.length)
    expect(reader.done).toBe(true)
    expect(reader.out).toEqual(want)
  })

  it('gives the same answer whatever byte the chunks are cut at', () => {
    for (let cut = 1; cut < mget.length; cut++) {
      const reader = new CompareReader(expected, true)
      expect(readInChunks(reader, mget, [cut])).toBe(0)
      expect(reader.out, `cut at ${cut}`).toEqual(want)
    }
    // And a byte at a time.
    const reader = new CompareReader(expected, true)
    readInChunks(reader, mget, Array.from({length: mget.length - 1}, (_x, n) => n + 1))
    expect(reader.out).toEqual(want)
  })

  it('does not take a longer or shorter value for the expected one', () => {
    const reader = new CompareReader([b('paid'), b('paid'), b('paid')], true)
    reader.feed(b('*3\r\n$5\r\npaid \r\n$3\r\npai\r\n$4\r\nPAID\r\n'), 0)
    expect(reader.out).toEqual([
      {state: 'value', value: 'paid '},
      {state: 'value', value: 'pai'},
      {state: 'value', value: 'PAID'},
    ])
  })

  it('reads pipelined replies one per command, an error among them', () => {
    const reader = new CompareReader([b('paid'), b('paid'), b('paid')], false)
    reader.feed(b('$4\r\npaid\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$-1\r\n'), 0)
    expect(reader.out).toEqual([null, {state: 'error', message: 'WRONGTYPE Operation against a key holding the wrong kind of value'}, {state: 'missing'}])
  })

  it('fails the request when MGET is answered with an error, and refuses a reply that is not the array asked for', () => {
    const refused = new CompareReader([b('x')], true)
    refused.feed(b('-NOAUTH Authentication required.\r\n'), 0)
    expect(refused.done).toBe(true)
    expect(refused.failed).toBe('NOAUTH Authentication required.')
    expect(() => new CompareReader([b('x'), b('y')], true).feed(b('*3\r\n'), 0)).toThrow(/not an array of the keys asked/)
    expect(() => new CompareReader([b('x')], false).feed(b('*1\r\n$1\r\nx\r\n'), 0)).toThrow(/unexpected reply type/)
  })

  it('stops at the end of its own replies, leaving the next request its bytes', () => {
    const reader = new CompareReader([null], false)
    const bytes = b('+OK\r\n$4\r\npaid\r\n')
    expect(reader.feed(bytes, 0)).toBe(5)
    expect(reader.out).toEqual([{state: 'value', value: 'OK'}])
  })
})

describe('encodeCommands', () => {
  it('writes each command as an array of bulk strings, lengths in bytes', () => {
    expect(encodeCommands([['MGET', 'a', 'bc']]).toString()).toBe('*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$2\r\nbc\r\n')
    expect(encodeCommands([['HGET', 'k', 'f'], ['HGET', 'k2', 'f']]).toString()).toBe('*3\r\n$4\r\nHGET\r\n$1\r\nk\r\n$1\r\nf\r\n*3\r\n$4\r\nHGET\r\n$2\r\nk2\r\n$1\r\nf\r\n')
    // A key that is not ASCII is measured in UTF-8 bytes, and so is every other key of the batch.
    const bytes = encodeCommands([['MGET', 'o:é', 'o:1', 'o:😀']])
    expect(bytes.toString('utf8')).toBe('*4\r\n$4\r\nMGET\r\n$4\r\no:é\r\n$3\r\no:1\r\n$6\r\no:😀\r\n')
  })
})

describe('encodeKeyCommands', () => {
  const plain = (pattern: string, ids: string[]) => ids.map((id) => pattern.split('{id}').join(id))
  /** The ids packed in one string, with some text around them that is not an id. */
  const packed = (ids: string[]) => {
    const start: number[] = []
    const end: number[] = []
    let text = 'xx'
    for (const id of ids) {
      start.push(text.length)
      text += id
      end.push(text.length)
      text += '|'
    }
    return {text, start, end}
  }

  it('writes the same bytes as encodeCommands over the keys the pattern makes', () => {
    const cases: [string, string[]][] = [
      ['order:{id}', ['1', '22', '333', '']],
      // Runs of ids of one length (the bytes before the id copied from the run's first), broken and resumed.
      ['order:{id}', ['10', '11', '12', '7', '13', '14', '1234', '1235', '15']],
      ['{id}', ['a', 'bc']],
      ['app:{id}:v{id}:{id}', ['x', '12345678901234567890']],
      ['p'.repeat(100) + ':{id}:' + 'q'.repeat(70), ['1', '2']],
      ['o:{id}', ['é', '1', '😀', '東京']],
      ['ö:{id}', ['1', '2']],
      ['o:{id}', []],
    ]
    for (const [pattern, ids] of cases) {
      const keys = plain(pattern, ids)
      expect(encodeKeyCommands(['MGET'], pattern, packed(ids), [], false).toString('utf8')).toBe(encodeCommands([['MGET', ...keys]]).toString('utf8'))
      expect(encodeKeyCommands(['HGET'], pattern, packed(ids), ['status'], true).toString('utf8')).toBe(encodeCommands(keys.map((k) => ['HGET', k, 'status'])).toString('utf8'))
    }
  })

  it('writes lengths of every size: 9, 10, 99, 100 and 1000 bytes', () => {
    const ids = [8, 9, 98, 99, 999].map((n) => 'k'.repeat(n))
    const bytes = encodeKeyCommands(['MGET'], '{id}:', packed(ids), [], false)
    expect(bytes.equals(encodeCommands([['MGET', ...ids.map((id) => `${id}:`)]]))).toBe(true)
  })
})
