import type {SqlExecutor} from '../ports.js'
import {type Fragment, type ScanSpec, splitAt} from './scan.js'

/** Code units are taken as digits below the surrogates, so that a middle key is valid UTF-16. */
const DIGIT = 0xd800n

/**
 * A key between two keys, to cut a column's key space in two halves that are merged side by side. Any key would
 * give the same findings (each half is a range the database cuts); this one only aims at halves of similar size:
 * the numeric middle of integer keys, or the middle of the first four characters after the common prefix of text
 * keys. Null when there is nothing to cut (an empty column, one key, keys that are not numbers when they should be).
 */
export function middleKey(lo: string | null, hi: string | null, numeric: boolean): string | null {
  if (lo === null || hi === null || lo === hi) return null
  if (numeric) {
    if (!/^-?\d+$/.test(lo) || !/^-?\d+$/.test(hi)) return null
    return ((BigInt(lo) + BigInt(hi)) / 2n).toString()
  }
  let prefix = 0
  while (prefix < lo.length && prefix < hi.length && lo[prefix] === hi[prefix]) prefix++
  const value = (s: string) => {
    let v = 0n
    for (let n = 0; n < 4; n++) v = v * DIGIT + BigInt(Math.min(s.charCodeAt(prefix + n) || 0, 0xd7ff))
    return v
  }
  let mid = (value(lo) + value(hi)) / 2n
  const digits: number[] = []
  for (let n = 0; n < 4; n++) {
    digits.unshift(Number(mid % DIGIT))
    mid /= DIGIT
  }
  while (digits.length > 0 && digits.at(-1) === 0) digits.pop()
  return lo.slice(0, prefix) + String.fromCharCode(...digits)
}

/** A column's lowest and highest keys as text, and whether to cut between them as numbers. */
export interface KeyEnds {
  lo: string | null
  hi: string | null
  numeric: boolean
}

/**
 * A column's MIN and MAX, to cut its keys in ranges read side by side. `numeric: 'guess'` takes integers (a BIGINT
 * comes as a string) for numbers, so that the ranges are even.
 */
export async function keyEnds(sql: SqlExecutor, from: string, column: string, numeric: boolean | 'guess', where: Fragment[] = []): Promise<KeyEnds> {
  const filter = where.length > 0 ? ` WHERE ${where.map((w) => w.sql).join(' AND ')}` : ''
  const [ends] = await sql.query<{lo: unknown; hi: unknown}>(`SELECT MIN(${column}) AS lo, MAX(${column}) AS hi FROM ${from}${filter}`, where.flatMap((w) => w.params))
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v))
  const integer = (v: unknown) => typeof v === 'number' || (typeof v === 'string' && /^(-?[1-9]\d*|0)$/.test(v))
  return {lo: text(ends?.lo), hi: text(ends?.hi), numeric: numeric === 'guess' ? integer(ends?.lo) && integer(ends?.hi) : numeric}
}

/**
 * A scan cut into `parts` (a power of two) scans of key ranges around middleKey cuts. Each cut is added to the part it
 * cuts (key <= cut, key > cut), so the parts split the keys whole whatever order the collation gives the cuts; fewer
 * parts when there is nothing to cut.
 */
export function splitScan(spec: ScanSpec, ends: KeyEnds, parts: number): ScanSpec[] {
  const cut = parts > 1 ? middleKey(ends.lo, ends.hi, ends.numeric) : null
  // A cut at the lowest key leaves the upper part with the same ends, to be cut there again for nothing.
  if (cut === null || cut === ends.lo) return [spec]
  const [low, high] = splitAt(spec, cut)
  return [...splitScan(low, {...ends, hi: cut}, parts / 2), ...splitScan(high, {...ends, lo: cut}, parts / 2)]
}
