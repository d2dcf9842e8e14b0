/** The faults the demo injects, each named after the reconcile check that should find it, where one does. */
export const FAULT_KINDS = [
  'crash_before_publish',
  'order_without_message',
  'message_lost',
  'poison_message',
  'consumer_failure',
  'cache_drift',
  'duplicate_delivery',
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

/** mulberry32: a small seeded generator, so that a seed always gives the same faults. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The highest fault rate: every kind at this rate, and at most one fault per order, fill every order. */
export const MAX_FAULT_RATE = 1 / FAULT_KINDS.length

/**
 * Which fault, if any, each order gets. One draw per order: a draw below rate × kinds picks the kind
 * floor(draw / rate), so each kind has probability `rate` and an order never has two faults, which keeps
 * the expected findings of reconcile exact.
 *
 * | draw r                         | fault                   |
 * | ------------------------------ | ----------------------- |
 * | r < rate                       | crash_before_publish    |
 * | rate ≤ r < 2·rate              | order_without_message   |
 * | …                              | … (FAULT_KINDS order)   |
 * | 6·rate ≤ r < 7·rate            | duplicate_delivery      |
 * | r ≥ 7·rate                     | none                    |
 */
export function planFaults(orders: number, rate: number, seed: number): (FaultKind | undefined)[] {
  const random = seededRandom(seed)
  const plan: (FaultKind | undefined)[] = []
  for (let i = 0; i < orders; i++) {
    const draw = random()
    const index = rate > 0 ? Math.floor(draw / rate) : FAULT_KINDS.length
    plan.push(index < FAULT_KINDS.length ? FAULT_KINDS[index] : undefined)
  }
  return plan
}
