/**
 * The one reading of cache.keyPattern (`order:{id}`): `{id}` anywhere in it, any number of times, each replaced by the
 * order's id. Reconcile, the cache adapter and the RESP encoder all build keys through here.
 */

/** The pattern's text around each `{id}`: the key of an id is parts.join(id). */
export function patternParts(pattern: string): string[] {
  return pattern.split('{id}')
}

/** The cache key of an order id, for many ids: the pattern is split once. */
export function cacheKeys(pattern: string): (id: string) => string {
  const parts = patternParts(pattern)
  if (parts.length === 2) return (id) => parts[0] + id + parts[1]
  return (id) => parts.join(id)
}
