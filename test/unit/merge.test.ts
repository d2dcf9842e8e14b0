import {describe, expect, it} from 'vitest'

import {type IndexColumn, narrowIndex} from '../../src/core/introspect.js'
import {middleKey, splitScan} from '../../src/core/reconcile/cut.js'
import {KeyPage} from '../../src/core/reconcile/packed-page.js'
import {matchKeys} from '../../src/core/reconcile/walk.js'
import type {ScanSpec} from '../../src/core/reconcile/scan.js'

const SEP = '\u001E'
const packed = (keys: string[]) => KeyPage.packed(keys.join(SEP), keys.length)!

/** What matchKeys must give whatever the order: a set comparison by exact equality. */
function naive(base: string[], others: string[][]): {marked: boolean[]; missing: string[]} {
  const all = new Set(others.flat())
  const inBase = new Set(base)
  return {marked: base.map((k) => all.has(k)), missing: others.flat().filter((k) => !inBase.has(k))}
}

function match(base: KeyPage, others: KeyPage[]): {marked: boolean[]; missing: string[]} {
  const marks = new Uint8Array(base.count)
  const missing: string[] = []
  let at = 0
  for (const other of others) at = matchKeys(base, marks, 2, other, missing, at)
  return {marked: [...marks].map((m) => (m & 2) !== 0), missing}
}

/** A small deterministic generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648
    return s / 2_147_483_648
  }
}

describe('KeyPage', () => {
  it('unpacks a packed text, and refuses one that is cut or holds a key with the separator', () => {
    const page = packed(['m1', 'm22', 'é'])
    expect([page.count, page.key(0), page.key(1), page.key(2)]).toEqual([3, 'm1', 'm22', 'é'])
    expect(KeyPage.packed(`m1${SEP}m2`, 3)).toBeNull() // a key lost
    expect(KeyPage.packed(`m1${SEP}x${SEP}y`, 2)).toBeNull() // a key holding SEP
    expect(KeyPage.packed('', 1)?.key(0)).toBe('') // one empty key
    expect(KeyPage.packed('', 0)?.count).toBe(0)
  })

  it('finds a key by exact equality, packed or not', () => {
    for (const page of [packed(['a', 'ab', 'b', 'abc']), KeyPage.of(['a', 'ab', 'b', 'abc'])]) {
      expect(['a', 'ab', 'b', 'abc', 'A', 'bc', ''].map((k) => page.find(k))).toEqual([0, 1, 2, 3, -1, -1, -1])
      // Looking first from a position, it still finds the keys before it, and past the end.
      expect(['a', 'ab', 'b', 'abc', 'bc'].map((k) => page.find(k, 2))).toEqual([0, 1, 2, 3, -1])
      expect(['a', 'abc'].map((k) => page.find(k, 4))).toEqual([0, 3])
      // Searched many times, the page answers from an index of its keys: the same answers.
      for (let round = 0; round < 20; round++) expect(['abc', 'x', 'a', 'b'].map((k) => page.find(k, round % 5))).toEqual([3, -1, 0, 2])
    }
  })
})

describe('matchKeys', () => {
  it('walks keys in step: extras on either side, duplicates, partner keys over several pages', () => {
    const base = packed(['m1', 'm2', 'm3', 'm4', 'm5', 'm6'])
    expect(match(base, [packed(['m0', 'm1', 'm1', 'm3']), packed(['m3', 'm4', 'm7']), KeyPage.of(['m8'])])).toEqual({
      marked: [true, false, true, true, false, false],
      missing: ['m0', 'm7', 'm8'],
    })
  })

  it('compares long runs in step as text, and still finds the few keys out of step', () => {
    const next = random(7)
    for (let round = 0; round < 40; round++) {
      const universe = Array.from({length: 3000}, (_x, n) => `m${String(n).padStart(6, '0')}`)
      // Rare gaps on either side and a few duplicates (several consumers), as real tables have.
      const base = universe.filter(() => next() < 0.995)
      const other = universe.filter(() => next() < 0.995).flatMap((k) => (next() < 0.002 ? [k, k] : [k]))
      if (round % 4 === 0) [other[100], other[101]] = [other[101], other[100]]
      const cut = Math.floor(next() * other.length)
      const pages = [other.slice(0, cut), other.slice(cut)]
      const want = naive(base, pages)
      const got = match(packed(base), pages.map((p) => (round % 8 === 1 ? KeyPage.of(p) : packed(p))))
      expect(got.marked, `round ${round}`).toEqual(want.marked)
      expect(got.missing.sort(), `round ${round}`).toEqual(want.missing.sort())
    }
  })

  it('gives the set comparison whatever the order of the keys (ties of a collation, shuffled pages)', () => {
    const next = random(20_261_121)
    for (let round = 0; round < 300; round++) {
      const universe = Array.from({length: 40}, (_x, n) => (next() < 0.2 ? `M${n}` : `m${n}`))
      const base = universe.filter(() => next() < 0.7)
      const other = universe.filter(() => next() < 0.7).flatMap((k) => (next() < 0.1 ? [k, k] : [k]))
      // Some rounds out of step: a few neighbours swapped, as keys equal under a collation may sort.
      if (round % 3 === 0)
        for (let n = 0; n + 1 < other.length; n += 5) [other[n], other[n + 1]] = [other[n + 1], other[n]]
      if (round % 7 === 0) other.reverse()
      const cut = Math.floor(next() * (other.length + 1))
      const pages = [other.slice(0, cut), other.slice(cut)]
      const want = naive(base, pages)
      const got = match(round % 2 === 0 ? packed(base) : KeyPage.of(base), pages.map((p) => (round % 5 === 0 ? KeyPage.of(p) : packed(p))))
      expect(got.marked, `round ${round}`).toEqual(want.marked)
      expect(got.missing.sort(), `round ${round}`).toEqual(want.missing.sort())
    }
  })
})

describe('splitScan', () => {
  const spec: ScanSpec = {select: [], from: 'orders o', where: [{sql: 'o.x = ?', params: [1]}], ts: null, keys: ['o.id'], byKey: true}
  const ranges = (parts: ScanSpec[]) => parts.map((p) => p.where.slice(1).map((w) => `${w.sql.replace('o.id ', '').replace(' ?', '')}${String(w.params[0])}`).join(' '))

  it('cuts a scan in ranges around middle keys, each cut added to the part it cuts, so the parts take every key once', () => {
    const parts = splitScan(spec, {lo: '0', hi: '100', numeric: true}, 4)
    expect(ranges(parts)).toEqual(['<=50 <=25', '<=50 >25', '>50 <=75', '>50 >75'])
    // The spec's own condition and parameters stay first in every part.
    for (const part of parts) expect([part.where[0].sql, part.where[0].params[0]]).toEqual(['o.x = ?', 1])
    expect(ranges(splitScan(spec, {lo: '0', hi: '100', numeric: true}, 2))).toEqual(['<=50', '>50'])
  })

  it('keeps a scan whole where there is nothing to cut', () => {
    expect(splitScan(spec, {lo: '5', hi: '5', numeric: true}, 4)).toEqual([spec])
    expect(splitScan(spec, {lo: null, hi: null, numeric: false}, 2)).toEqual([spec])
    expect(splitScan(spec, {lo: '0', hi: '100', numeric: true}, 1)).toEqual([spec])
    // Two adjacent keys are not cut; a range of three is cut once, and its parts are not cut again.
    expect(splitScan(spec, {lo: '1', hi: '2', numeric: true}, 4)).toEqual([spec])
    expect(ranges(splitScan(spec, {lo: '1', hi: '3', numeric: true}, 4))).toEqual(['<=2', '>2'])
  })
})

describe('middleKey', () => {
  it('cuts integer keys at their numeric middle, BIGINT included', () => {
    expect(middleKey('1', '1000', true)).toBe('500')
    expect(middleKey('-10', '11', true)).toBe('0')
    expect(middleKey('9007199254740993', '9007199254740999', true)).toBe('9007199254740996')
    expect(middleKey('5', '5', true)).toBeNull()
    expect(middleKey(null, '5', true)).toBeNull()
    expect(middleKey('a', '5', true)).toBeNull()
  })

  it('cuts text keys between them after their common prefix, in valid UTF-16', () => {
    const cases: [string, string][] = [
      ['m00000001', 'm00999999'],
      ['a', 'b'],
      ['order-1', 'order-10'],
      ['00000000-0000-4000-8000-000000000000', 'ffffffff-ffff-4fff-bfff-ffffffffffff'],
      ['é', '😀'],
    ]
    for (const [lo, hi] of cases) {
      const cut = middleKey(lo, hi, false)!
      expect(cut > lo && cut < hi, `${lo} < ${cut} < ${hi}`).toBe(true)
      expect([...cut].every((ch) => ch.charCodeAt(0) < 0xd800), cut).toBe(true)
    }
    expect(middleKey('m00000001', 'm00999999', false)!.startsWith('m00')).toBe(true)
    expect(middleKey('x', 'x', false)).toBeNull()
  })
})

describe('narrowIndex', () => {
  const col = (index: string, seq: number, column: string, subPart: number | null = null): IndexColumn => ({index, seq, column, subPart})

  it('picks the narrowest secondary index led by the whole primary key column, none otherwise', () => {
    const reference = [col('PRIMARY', 1, 'id'), col('idx_status', 1, 'status'), col('idx_status', 2, 'created_at'), col('idx_id', 1, 'id')]
    expect(narrowIndex(reference, 'ID')).toBe('idx_id')
    // Two candidates: the one with fewer columns, then the first by name.
    expect(narrowIndex([...reference, col('a_id_time', 1, 'id'), col('a_id_time', 2, 'created_at')], 'id')).toBe('idx_id')
    expect(narrowIndex([col('PRIMARY', 1, 'id'), col('b', 1, 'id'), col('a', 1, 'id')], 'id')).toBe('a')
    // Only the primary key, or a prefix index (it holds no whole id): the primary key is read.
    expect(narrowIndex([col('PRIMARY', 1, 'id'), col('idx_status', 1, 'status')], 'id')).toBeNull()
    expect(narrowIndex([col('PRIMARY', 1, 'id'), col('idx_id10', 1, 'id', 10)], 'id')).toBeNull()
    // A column that does not lead the primary key is read from its own index by the optimizer already.
    expect(narrowIndex([col('PRIMARY', 1, 'seq'), col('idx_message', 1, 'message_id')], 'message_id')).toBeNull()
    expect(narrowIndex([col('PRIMARY', 1, 'tenant'), col('PRIMARY', 2, 'id'), col('idx_id', 1, 'id')], 'id')).toBeNull()
  })
})
