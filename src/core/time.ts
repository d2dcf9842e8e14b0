import {setTimeout as delay} from 'node:timers/promises'

/** The one place msgops waits: sleeps that end early when their run is stopped, and deadlines on promises. */

/** Waits ms (nothing when ms ≤ 0); resolves early, never rejects, when the signal aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return
  await delay(ms, undefined, {signal}).catch(() => {})
}

/** The promise, or a rejection with code TIMEOUT (or the given error) when it takes longer than ms. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, timeoutError?: () => Error): Promise<T> {
  const timer = new AbortController()
  const timeout = delay(ms, undefined, {signal: timer.signal}).then(() => {
    throw timeoutError?.() ?? Object.assign(new Error('timeout'), {code: 'TIMEOUT'})
  })
  timeout.catch(() => {})
  try {
    return await Promise.race([promise, timeout])
  } finally {
    timer.abort()
  }
}

/** A clock that tests and benchmarks can replace; sleep resolves early when the signal aborts. */
export interface Clock {
  now(): number
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {now: () => Date.now(), sleep}
