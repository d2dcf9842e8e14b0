import {MsgopsError, oneLine} from '../errors.js'
import {maskSecrets} from '../mask.js'
import {withTimeout} from '../time.js'
import type {Part} from './model.js'

/** What a read returns when there is nothing to read (a table that is not there): the part is "absent", not failing. */
export class Absent {
  constructor(readonly reason: string) {}
}

/** A read's error as the one line a part shows. */
export function partError(error: unknown, timeoutMs: number): string {
  if ((error as {code?: string}).code === 'TIMEOUT') return `no answer within ${timeoutMs} ms`
  const e = error as Error
  const text = e instanceof MsgopsError && e.suggestion ? `${e.message}; ${e.suggestion}` : (e?.message ?? String(error))
  return oneLine(maskSecrets(text))
}

/**
 * One part of the snapshot read with its own timeout. A read still running when the next snapshot asks is waited
 * for again rather than started twice, so that a slow source never has more than one read in flight; on a failure
 * or a timeout the last good figures are kept, marked stale.
 */
export class PartReader<T> {
  private inflight?: Promise<T | Absent>
  private last?: {data: T; readAt: string}

  constructor(
    private readonly read: () => Promise<T | Absent>,
    private readonly now: () => number = Date.now,
  ) {}

  async take(timeoutMs: number): Promise<Part<T>> {
    const started = this.now()
    if (!this.inflight) {
      const running = this.read()
      this.inflight = running
      running.then(
        () => this.settle(running),
        () => this.settle(running),
      )
    }
    try {
      const result = await withTimeout(this.inflight, timeoutMs)
      const tookMs = this.now() - started
      if (result instanceof Absent) {
        this.last = undefined
        return {state: 'absent', data: null, readAt: null, error: result.reason, tookMs}
      }
      this.last = {data: result, readAt: new Date(this.now()).toISOString()}
      return {state: 'ok', data: result, readAt: this.last.readAt, tookMs}
    } catch (error) {
      const tookMs = this.now() - started
      const why = partError(error, timeoutMs)
      if (this.last) return {state: 'stale', data: this.last.data, readAt: this.last.readAt, error: why, tookMs}
      return {state: 'unreachable', data: null, readAt: null, error: why, tookMs}
    }
  }

  private settle(running: Promise<unknown>): void {
    if (this.inflight === running) this.inflight = undefined
  }
}
