import {UsageError} from './errors.js'

const UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y
/** Ten years: anything longer is a typo, and large values overflow timers and SQL intervals. */
export const MAX_DURATION_MS = 3650 * UNITS.d

/**
 * Parses `30s`, `5m`, `24h`, `7d`, `1h30m`, `250ms` into milliseconds.
 * A bare number is refused: `10` could mean seconds or minutes.
 */
export function parseDuration(input: string, what = 'duration'): number {
  const text = input.trim().toLowerCase()
  const hint = 'use a number and a unit, e.g. 30s, 5m, 24h or 7d'
  if (text === '') throw new UsageError(`${what} is empty`, hint)
  if (text.startsWith('-')) throw new UsageError(`${what} "${input}" is negative`, hint)
  if (/^\d+(\.\d+)?$/.test(text)) throw new UsageError(`${what} "${input}" has no unit`, hint)
  let total = 0
  PART.lastIndex = 0
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex
    const match = PART.exec(text)
    if (!match || match.index !== start) throw new UsageError(`${what} "${printable(input)}" is not a duration`, hint)
    total += Number(match[1]) * UNITS[match[2]]
  }
  if (!Number.isFinite(total) || total > MAX_DURATION_MS)
    throw new UsageError(`${what} "${printable(input)}" is too long`, 'use at most 3650d')
  return Math.round(total)
}

/** Short human form of a duration: 45s, 12m, 3h 5m, 2d 4h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-'
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(ms)
  if (rest < 1000) return `${sign}${Math.round(rest)}ms`
  rest = Math.floor(rest / 1000)
  const d = Math.floor(rest / 86_400)
  const h = Math.floor((rest % 86_400) / 3600)
  const m = Math.floor((rest % 3600) / 60)
  const s = rest % 60
  if (d > 0) return `${sign}${d}d${h ? ` ${h}h` : ''}`
  if (h > 0) return `${sign}${h}h${m ? ` ${m}m` : ''}`
  if (m > 0) return `${sign}${m}m${s ? ` ${s}s` : ''}`
  return `${sign}${s}s`
}

function printable(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}
