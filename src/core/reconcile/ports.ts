import type {OrderPage} from './packed-page.js'

/** The small ports reconciliation needs beyond SqlPort; src/adapters/cache.ts implements CachePort with ioredis. */

/** What one cache key holds, read the configured way (plain string, hash field or JSON field). */
export type CacheRead =
  | {state: 'missing'}
  | {state: 'value'; value: string}
  /** The key exists but cannot be read as configured: wrong Redis type (`wrongType`: the type it holds), not JSON, no such field. */
  | {state: 'invalid'; reason: string; wrongType?: string}

export interface CachePort {
  /** Reads every key in one pipelined round trip; results in the order of keys. */
  read(keys: string[]): Promise<CacheRead[]>
  /**
   * Like read, for the key of each order of the page (the pattern with its id in place of `{id}`), but a key holding
   * exactly the order's status (compared as stored, without decoding) comes back as null: the common case of a
   * million clean keys costs no string per key. An order whose status is NULL expects nothing: its key is read.
   */
  readDiffering(pattern: string, page: OrderPage): Promise<(CacheRead | null)[]>
  /**
   * Writes each value the configured way (string SET, HSET field, JSON field), keeping any TTL; pipelined. A key of
   * another Redis type is replaced, or with 'keep' left as it is and returned in `left`: never an error.
   */
  write(entries: {key: string; value: string}[], onWrongType?: 'keep' | 'replace'): Promise<{left: string[]}>
  /** Deletes the keys; pipelined. */
  remove(keys: string[]): Promise<void>
}

/** What a drain of stuck outbox rows reports. */
export interface DrainOutcome {
  /** Rows published, confirmed and marked sent. */
  sent: number
  /** Rows that could not be published this time (an attempt was added or they became dead letters). */
  failed: number
}

/**
 * Publishes these pending outbox rows with the code of `msgops outbox drain`; rows no longer pending are skipped.
 * Reconcile never publishes by itself: the command hands this in, or leaves message_stuck unfixed.
 */
export type DrainPort = (ids: string[], signal?: AbortSignal) => Promise<DrainOutcome>
