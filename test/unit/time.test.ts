import {describe, expect, it} from 'vitest'

import {utcOffset} from '../../src/adapters/mysql.js'
import {sleep, withTimeout} from '../../src/core/time.js'

describe('time', () => {
  it('sleep ends early, without an error, when its signal aborts', async () => {
    const stop = new AbortController()
    const started = Date.now()
    setTimeout(() => stop.abort(new Error('stop')), 20)
    await sleep(10_000, stop.signal)
    expect(Date.now() - started).toBeLessThan(5000)
    await sleep(10_000, stop.signal)
    await sleep(-5)
  })
  it('withTimeout gives the value, or rejects with code TIMEOUT or the given error', async () => {
    expect(await withTimeout(Promise.resolve(7), 1000)).toBe(7)
    await expect(withTimeout(new Promise(() => {}), 10)).rejects.toMatchObject({code: 'TIMEOUT'})
    await expect(withTimeout(new Promise(() => {}), 10, () => new Error('no answer'))).rejects.toThrow('no answer')
    await expect(withTimeout(Promise.reject(new Error('own')), 1000)).rejects.toThrow('own')
  })
})

describe('utcOffset', () => {
  it.each([
    [0, 'Z'],
    [20, 'Z'],
    [28_800, '+08:00'],
    [-25_200, '-07:00'],
    [19_800, '+05:30'],
    [-12_600, '-03:30'],
    [28_790, '+08:00'],
  ])('%d s is %s', (seconds, text) => expect(utcOffset(seconds)).toBe(text))
})
