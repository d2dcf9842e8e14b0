import {createHash} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import {errorPattern, fingerprint, isFingerprint, PATTERN_CHARS, READ_CHARS} from '../../src/core/fingerprint.js'

const FIXED = '63609eb5'

describe('errorPattern: one test per row of its decision table', () => {
  it('no error text: null, undefined, empty, white space', () => {
    for (const text of [null, undefined, '', '   \n\t ']) expect(errorPattern(text)).toBe('')
  })

  it('several lines: the first non-empty one', () => {
    expect(errorPattern('\n  TimeoutException: payment\n    at Pay.call (pay.js:10)\n')).toBe('TimeoutException: payment')
  })

  it('longer than READ_CHARS: only the head is read, a 1 MB text in bounded time', () => {
    const huge = `x${'a'.repeat(1024 * 1024)}`
    const started = performance.now()
    expect(errorPattern(huge)).toBe(errorPattern(huge.slice(0, READ_CHARS)))
    expect(errorPattern(Buffer.from(huge))).toBe(errorPattern(huge.slice(0, READ_CHARS)))
    // A pathological 1 MB text of quotes, dots and digits: bounded too (the limit is generous: no timing assert on speed).
    const nasty = '"1.2.3.4.5'.repeat(100_000)
    errorPattern(nasty)
    expect(performance.now() - started).toBeLessThan(5000)
  })

  it('bytes that are not UTF-8: replaced, like any decoder, and the same bytes give the same pattern', () => {
    const bytes = Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x20, 0x31, 0x32])
    expect(errorPattern(bytes)).toBe('bad \uFFFD\uFFFD <n>')
    expect(fingerprint({error: bytes})).toBe(fingerprint({error: Buffer.from(bytes)}))
  })

  it('quoted values', () => {
    expect(errorPattern(`exchange "orders.x" does not exist, key 'a b' and \`c\``)).toBe('exchange <q> does not exist, key <q> and <q>')
  })

  it('UUIDs', () => {
    expect(errorPattern('order 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c not found')).toBe('order <uuid> not found')
  })

  it('dates and times', () => {
    expect(errorPattern('at 2026-12-01T08:53:38.120Z and 2026-12-01 08:53:38+02:00 and 08:53:38.5')).toBe('at <time> and <time> and <time>')
  })

  it('host:port, [v6]:port and IPv4 addresses', () => {
    expect(errorPattern('connect ECONNREFUSED 10.0.0.12:5672 via db-1.internal:3306, [::1]:6379, localhost:80 from 192.168.1.9')).toBe(
      'connect ECONNREFUSED <host> via <host>, <host>, <host> from <host>',
    )
  })

  it('hex', () => {
    expect(errorPattern('pointer 0x7ffde4a0 object 5f2b9c0d1e3a and deadbeef99')).toBe('pointer <n> object <n> and <n>')
  })

  it('ids: words of letters and digits', () => {
    expect(errorPattern('customer cus_8f3k2 tenant t42 v2')).toBe('customer <n> tenant <n> <n>')
  })

  it('numbers', () => {
    expect(errorPattern('NullReferenceException in OrderHandler line 88 after 3.5 s')).toBe('NullReferenceException in OrderHandler line <n> after <n> s')
  })

  it('runs of white space', () => {
    expect(errorPattern('  a \t  b   c ')).toBe('a b c')
  })

  it('longer than PATTERN_CHARS once normalized: cut after normalizing, so ids before the cut cannot move it', () => {
    const tail = 'x'.repeat(300)
    const a = errorPattern(`order 1 ${tail}`)
    const b = errorPattern(`order 123456789012 ${tail}`)
    expect(a).toHaveLength(PATTERN_CHARS)
    expect(a).toBe(b)
  })

  it('case and other characters are kept', () => {
    expect(errorPattern('NullReferenceException')).not.toBe(errorPattern('nullreferenceexception'))
    expect(errorPattern('returned: NO_ROUTE')).toBe('returned: NO_ROUTE')
  })
})

describe('fingerprint: one test per row of its decision table', () => {
  it('is 8 hex characters, and stable across runs and machines (a fixed value)', () => {
    const fp = fingerprint({error: 'returned: NO_ROUTE', subject: 'order.created'})
    expect(isFingerprint(fp)).toBe(true)
    // A fixed value (sha256 of ["fp1","returned: NO_ROUTE","order.created","",""]): a key printed today still works tomorrow, elsewhere.
    expect(fp).toBe(createHash('sha256').update('["fp1","returned: NO_ROUTE","order.created","",""]').digest('hex').slice(0, 8))
    expect(fp).toBe(FIXED)
  })

  it('the error text enters by its pattern: other ids, times and hosts give the same fingerprint', () => {
    const a = fingerprint({error: 'order 17 timed out after 2026-12-01T08:53:38Z calling 10.0.0.1:8080', subject: 'order.created'})
    const b = fingerprint({error: 'order 90812 timed out after 2027-01-02T00:00:00Z calling 10.9.9.9:9090', subject: 'order.created'})
    expect(a).toBe(b)
  })

  it('a different error pattern gives another fingerprint', () => {
    expect(fingerprint({error: 'timeout calling payment'})).not.toBe(fingerprint({error: 'NullReferenceException in OrderHandler'}))
  })

  it('the subject counts as it is; none and empty are the same', () => {
    expect(fingerprint({error: 'x', subject: 'order.created'})).not.toBe(fingerprint({error: 'x', subject: 'order.paid'}))
    expect(fingerprint({error: 'x', subject: null})).toBe(fingerprint({error: 'x', subject: ''}))
    expect(fingerprint({error: 'x'})).toBe(fingerprint({error: 'x', subject: undefined}))
  })

  it('reason and queue count as they are; none and empty are the same', () => {
    const base = {error: 'x', subject: 'order.created'}
    expect(fingerprint({...base, reason: 'rejected', queue: 'q'})).not.toBe(fingerprint({...base, reason: 'expired', queue: 'q'}))
    expect(fingerprint({...base, reason: 'rejected', queue: 'q'})).not.toBe(fingerprint({...base, reason: 'rejected', queue: 'r'}))
    expect(fingerprint({...base, reason: null, queue: null})).toBe(fingerprint(base))
  })

  it('parts do not run into each other: moving text between parts changes the fingerprint', () => {
    expect(fingerprint({error: 'ab', subject: 'c'})).not.toBe(fingerprint({error: 'a', subject: 'bc'}))
  })
})
