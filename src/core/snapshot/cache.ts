import {withTimeout} from '../time.js'
import type {Snapshot} from './model.js'

/**
 * The snapshot a scrape is answered with. Within minIntervalMs of the last snapshot's start, that one again (a fast
 * scraper cannot load the database); otherwise a new one (one at a time, shared by the scrapes that wait for it),
 * and when it takes longer than scrapeTimeoutMs, the last one marked stale while the new one finishes for later.
 *
 * | last snapshot            | new one                  | answer                        |
 * | ------------------------ | ------------------------ | ----------------------------- |
 * | started < min-interval ago | not taken              | the last, not stale           |
 * | older, or none           | done within the timeout  | the new, not stale            |
 * | older                    | not done in the timeout  | the last, stale               |
 * | none                     | not done in the timeout  | none, stale                   |
 */
export class ScrapeCache {
  private last?: {snapshot: Snapshot; startedAt: number}
  private inflight?: Promise<Snapshot>

  constructor(
    private readonly take: () => Promise<Snapshot>,
    private readonly minIntervalMs: number,
    private readonly scrapeTimeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<{snapshot: Snapshot | null; stale: boolean}> {
    if (this.last && this.now() - this.last.startedAt < this.minIntervalMs) return {snapshot: this.last.snapshot, stale: false}
    if (!this.inflight) {
      const startedAt = this.now()
      const running = this.take()
      this.inflight = running
      running.then(
        (snapshot) => {
          this.last = {snapshot, startedAt}
          if (this.inflight === running) this.inflight = undefined
        },
        () => {
          if (this.inflight === running) this.inflight = undefined
        },
      )
    }
    try {
      return {snapshot: await withTimeout(this.inflight, this.scrapeTimeoutMs), stale: false}
    } catch {
      return {snapshot: this.last?.snapshot ?? null, stale: true}
    }
  }
}
