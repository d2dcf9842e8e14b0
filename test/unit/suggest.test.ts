import {describe, expect, it} from 'vitest'

import {closest, editDistance, suggestCommand, suggestFlag} from '../../src/core/suggest.js'

const IDS = ['outbox:status', 'outbox:list', 'outbox:drain', 'dlq:inspect', 'dlq:replay', 'dlq:purge', 'reconcile', 'doctor', 'demo', 'help', 'version']

describe('closest (one test per row)', () => {
  it('equal ignoring case: that candidate', () => {
    expect(closest('LIMIT', ['limit', 'list'])).toBe('limit')
  })
  it('within max(1, len/3) edits: the nearest, the first on a tie', () => {
    expect(closest('limt', ['list', 'limit'])).toBe('limit')
    expect(closest('stauts', ['status'])).toBe('status')
    expect(closest('ab', ['ax', 'ay'])).toBe('ax')
    expect(closest('limt', ['limit', 'list'])).toBe('limit')
  })
  it('3+ characters starting exactly one candidate: that one', () => {
    expect(closest('fault', ['fault-rate', 'seed'])).toBe('fault-rate')
  })
  it('anything else: none (a prefix of two, too far, or too short to guess from)', () => {
    expect(closest('re', ['reset', 'rate'])).toBeUndefined()
    expect(closest('res', ['reset', 'resume'])).toBeUndefined()
    expect(closest('zzzzzz', ['limit', 'json'])).toBeUndefined()
  })
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('hepl', 'help')).toBe(1)
    expect(editDistance('outbx', 'outbox')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
  })
})

describe('suggestCommand', () => {
  it('a mistyped topic or command, with what follows kept as arguments and flags in order', () => {
    expect(suggestCommand(['outbx', 'status'], IDS)).toEqual({command: 'outbox status', args: []})
    expect(suggestCommand(['dlq', 'inspet', 'order_queue.dlq', '--max', '3'], IDS)).toEqual({command: 'dlq inspect', args: ['order_queue.dlq', '--max', '3']})
    expect(suggestCommand(['reconcle', '--json'], IDS)).toEqual({command: 'reconcile', args: ['--json']})
    expect(suggestCommand(['hepl', 'outbox', 'drain'], IDS)).toEqual({command: 'help', args: ['outbox', 'drain']})
  })
  it('nothing near: none', () => {
    expect(suggestCommand(['frobnicate'], IDS)).toBeUndefined()
    expect(suggestCommand(['--json'], IDS)).toBeUndefined()
  })
})

describe('suggestFlag', () => {
  it('names the flags meant, or nothing', () => {
    expect(suggestFlag(['--limt'], ['limit', 'json'])).toBe('did you mean --limit?')
    expect(suggestFlag(['--limt=5', '--jsn'], ['limit', 'json'])).toBe('did you mean --limit, --json?')
    expect(suggestFlag(['--zzzzzz'], ['limit'])).toBeUndefined()
    expect(suggestFlag(undefined, ['limit'])).toBeUndefined()
  })
})
