import {randomBytes} from 'node:crypto'
import {hostname} from 'node:os'

import {InterruptedError, LockHeldError} from './errors.js'
import type {LockStore} from './ports.js'
import {sleep} from './time.js'

export interface LockOwner {
  token: string
  host: string
  pid: number
  since: string
  command: string
}

export interface LockOptions {
  /** How long the key lives without renewal; renewed every third of it while the work runs. */
  ttlMs?: number
  /** How long to wait for a held lock before giving up; 0 gives up at once. */
  waitMs?: number
  command: string
  signal?: AbortSignal
  /** The set of held lock keys to add this one to while it is held (read by top and metrics serve). */
  registry?: string
}

export interface HeldLock {
  readonly key: string
  readonly owner: LockOwner
  /** Aborted when a renewal finds the lock gone or taken, or its lifetime passed unrenewed: the work must stop. */
  readonly lost: AbortSignal
  /** Aborts `lost` at once when the lock's lifetime has passed since its last renewal (the process was paused). */
  checkExpired(): void
  release(): Promise<void>
}

/**
 * A Redis lock: SET NX PX with a random token, renewed while the work runs,
 * released by a compare-and-delete script so that we never delete another holder's lock.
 */
export async function acquireLock(store: LockStore, key: string, options: LockOptions): Promise<HeldLock> {
  const ttlMs = options.ttlMs ?? 30_000
  const owner: LockOwner = {
    token: randomBytes(16).toString('hex'),
    host: hostname(),
    pid: process.pid,
    since: new Date().toISOString(),
    command: options.command,
  }
  const value = JSON.stringify(owner)
  const deadline = Date.now() + (options.waitMs ?? 0)
  while (!(await store.setIfAbsent(key, value, ttlMs))) {
    if (Date.now() >= deadline) {
      const holder = parseOwner(await store.get(key))
      const who = holder ? `held by ${holder.host}/${holder.pid} since ${holder.since} (${holder.command})` : 'held by another run'
      throw new LockHeldError(
        `lock ${key} is ${who}`,
        options.waitMs ? `it was still held after waiting; try again later` : 'wait for that run to finish, or pass --wait-lock 5m to wait for it',
      )
    }
    if (options.signal?.aborted) throw new InterruptedError()
    await sleep(Math.min(500, Math.max(50, deadline - Date.now())), options.signal)
  }

  // Best effort: a registry that cannot be written leaves the lock itself as good, only unseen by top.
  if (options.registry) await store.addMember?.(options.registry, key).catch(() => {})
  const lost = new AbortController()
  let renewedAt = Date.now()
  /** Past its lifetime since the last renewal: this process was stopped (SIGSTOP, a long pause) and the key expired. */
  const expired = () => {
    const silent = Date.now() - renewedAt
    if (silent <= ttlMs || lost.signal.aborted) return
    lost.abort(new LockHeldError(
      `lock ${key} was lost while this process was paused for ${Math.round(silent / 1000)}s, longer than the lock's ${Math.round(ttlMs / 1000)}s lifetime`,
      'another run may hold it now; what was in flight was stopped, run again to finish',
    ))
  }
  const timer = setInterval(() => {
    expired()
    if (lost.signal.aborted) return
    const asked = Date.now()
    store.renewIfEquals(key, value, ttlMs).then(
      (still) => {
        if (still) renewedAt = asked
        else lost.abort(new LockHeldError(`lock ${key} was lost while the work ran`, 'another run may have taken it; check before running again'))
      },
      (error) => lost.abort(error),
    )
  }, Math.max(100, Math.floor(ttlMs / 3)))
  timer.unref()

  let released = false
  return {
    key,
    owner,
    lost: lost.signal,
    checkExpired: expired,
    async release() {
      if (released) return
      released = true
      clearInterval(timer)
      await store.deleteIfEquals(key, value)
      if (options.registry) await store.removeMember?.(options.registry, key).catch(() => {})
    },
  }
}

export function parseOwner(value: string | null): LockOwner | undefined {
  if (!value) return undefined
  try {
    const owner = JSON.parse(value) as LockOwner
    return typeof owner.host === 'string' ? owner : undefined
  } catch {
    return undefined
  }
}


/** The set of the lock keys held under a key prefix: `<prefix>locks`. */
export function lockRegistry(keyPrefix: string): string {
  return `${keyPrefix}locks`
}
