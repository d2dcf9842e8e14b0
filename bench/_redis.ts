import type {Redis} from 'ioredis'

/** Deletes every key under a bench's prefix (SCAN + UNLINK in pages: a bench may leave millions). */
export async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10_000)
    if (keys.length > 0) await redis.unlink(...keys)
    cursor = next
  } while (cursor !== '0')
}
