import {lockRegistry, parseOwner} from '../lock.js'
import type {LockFigures} from './model.js'
import type {SnapshotLocks} from './ports.js'

/** More held locks than this is not a state anyone reads on one screen. */
const MAX_LOCKS = 100

/**
 * The locks held now: the keys of the registry the lock holders keep (`<prefix>locks`, so that a refresh never scans a
 * keyspace of millions of cached orders), each with its owner (host, pid, since, command) and time to live.
 */
export async function readLocks(store: SnapshotLocks, keyPrefix: string): Promise<LockFigures> {
  const base = `${keyPrefix}lock:`
  const keys = await store.members(lockRegistry(keyPrefix), MAX_LOCKS)
  const locks = keys
    .filter((k) => k.value !== null)
    .map((k) => {
      const owner = parseOwner(k.value)
      return {name: k.key.slice(base.length), host: owner?.host ?? null, pid: owner?.pid ?? null, since: owner?.since ?? null, command: owner?.command ?? null, ttlMs: k.ttlMs}
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return {locks}
}
