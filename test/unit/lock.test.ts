import {afterEach, describe, expect, it, vi} from 'vitest'

import {LockHeldError} from '../../src/core/errors.js'
import {acquireLock, lockRegistry} from '../../src/core/lock.js'
import type {LockStore} from '../../src/core/ports.js'

/** A lock store in memory; expiry is not modelled: the lock must notice its own lifetime passing. */
function memoryStore(): LockStore & {values: Map<string, string>} {
  const values = new Map<string, string>()
  return {
    values,
    setIfAbsent: async (k, v) => (values.has(k) ? false : (values.set(k, v), true)),
    get: async (k) => values.get(k) ?? null,
    renewIfEquals: async (k, v) => values.get(k) === v,
    deleteIfEquals: async (k, v) => (values.get(k) === v ? values.delete(k) : false),
  }
}

afterEach(() => vi.useRealTimers())

describe('lock', () => {
  it('a process paused past the lock lifetime learns it lost the lock, and why, at its first tick', async () => {
    vi.useFakeTimers()
    const held = await acquireLock(memoryStore(), 'k', {command: 'test', ttlMs: 3000})
    await vi.advanceTimersByTimeAsync(1000)
    expect(held.lost.aborted).toBe(false)
    // Paused: the clock jumps 10 s while no timer ran.
    vi.setSystemTime(Date.now() + 10_000)
    held.checkExpired()
    expect(held.lost.aborted).toBe(true)
    expect(held.lost.reason).toBeInstanceOf(LockHeldError)
    expect((held.lost.reason as Error).message).toMatch(/^lock k was lost while this process was paused for 1[01]s, longer than the lock's 3s lifetime$/)
    await held.release()
  })

  it('renewals keep it alive; a key taken by another run is lost "while the work ran"', async () => {
    vi.useFakeTimers()
    const store = memoryStore()
    const held = await acquireLock(store, 'k', {command: 'test', ttlMs: 3000})
    await vi.advanceTimersByTimeAsync(9000)
    expect(held.lost.aborted).toBe(false)
    store.values.set('k', 'someone else')
    await vi.advanceTimersByTimeAsync(1100)
    expect((held.lost.reason as Error).message).toBe('lock k was lost while the work ran')
    await held.release()
    expect(store.values.get('k')).toBe('someone else')
  })
})

describe('the lock registry', () => {
  it('a held lock is a member of <prefix>locks until it is released', async () => {
    const sets = new Map<string, Set<string>>()
    const store = {
      ...memoryStore(),
      addMember: async (set: string, member: string) => void (sets.get(set) ?? sets.set(set, new Set()).get(set)!).add(member),
      removeMember: async (set: string, member: string) => void sets.get(set)?.delete(member),
    }
    const held = await acquireLock(store, 'p:lock:drain', {command: 'test', registry: lockRegistry('p:')})
    expect([...sets.get('p:locks')!]).toEqual(['p:lock:drain'])
    await held.release()
    expect([...sets.get('p:locks')!]).toEqual([])
  })
})
