import type {KeyPage} from './packed-page.js'

/** Keys compared at once while two pages walk in step. */
const RUN = 64

/**
 * Marks (bit `bit` of `marks`) the keys of `base` that `other` holds and adds to `missing` those of `other` that base
 * does not hold: a set comparison by exact string equality, in one linear walk when both come in the same order, as
 * keys of one collation read in index order do. `from` is where the walk stands in base (a range's partner keys may
 * come in several pages); returns where it stopped.
 *
 * | at base key i, other key j         | then                                                                  |
 * | ---------------------------------- | --------------------------------------------------------------------- |
 * | the next RUN keys equal, as text   | mark them; i and j move RUN on                                        |
 * | equal                              | mark i; next i, next j                                                |
 * | j equals base key i - 1            | a duplicate (one message, several consumers): next j                 |
 * | j found further on in base, at t   | base i..t-1 have no partner in other; mark t; next j, i = t + 1       |
 * | j found earlier in base, at t < i  | out of step (keys equal under the collation sort as ties): mark t     |
 * | j not in base                      | j is missing                                                          |
 */
export function matchKeys(base: KeyPage, marks: Uint8Array, bit: number, other: KeyPage, missing: string[], from = 0): number {
  let i = from
  // After a run that did not compare equal, key by key until past it.
  let singleUntil = 0
  for (let j = 0; j < other.count; j++) {
    if (j >= singleUntil && i + RUN <= base.count && j + RUN <= other.count) {
      if (base.sameRun(i, other, j, RUN)) {
        for (let n = 0; n < RUN; n++) marks[i + n] |= bit
        i += RUN
        j += RUN - 1
        continue
      }
      singleUntil = j + RUN
    }
    if (i < base.count && base.same(i, other, j)) {
      marks[i++] |= bit
      continue
    }
    if (i > 0 && base.same(i - 1, other, j)) continue
    const t = base.find(other.key(j), i)
    if (t < 0) missing.push(other.key(j))
    else {
      marks[t] |= bit
      if (t >= i) i = t + 1
    }
  }
  return i
}
