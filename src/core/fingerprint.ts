import {createHash} from 'node:crypto'

/** What a failure is known by: its error text and where it was going; the broker's side adds why and where it died. */
export interface FailureParts {
  /** The error text (outbox last_error, a dead letter's error header); a Buffer is read as UTF-8. */
  error?: string | Buffer | null
  /** The outbox row's event type, else its routing key; a dead letter's original routing key. */
  subject?: string | null
  /** Broker dead letters only: the first x-death reason and queue. */
  reason?: string | null
  queue?: string | null
}

/** Only this much of an error text is read: a 1 MB stack trace costs no more than a short one. */
export const READ_CHARS = 4096
/** The normalized text is cut here, after normalizing, so that varying ids before the cut cannot move it. */
export const PATTERN_CHARS = 200

/**
 * The varying parts, in priority order: each pass leaves placeholders that no later pass matches (no digits in them).
 * Every quantifier is bounded, and no pattern nests unbounded repetition: time is linear in the READ_CHARS input.
 * Hex, ids and numbers share one placeholder: a random id is all digits one time and has letters the next.
 */
const VARYING: {pattern: RegExp; placeholder: string; needs: RegExp}[] = [
  {pattern: /"[^"\n]{0,400}"|'[^'\n]{0,400}'|`[^`\n]{0,400}`/g, placeholder: '<q>', needs: /["'`]/},
  {pattern: /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g, placeholder: '<uuid>', needs: /-/},
  {pattern: /\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?|\b\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\b/g, placeholder: '<time>', needs: /\d[-:]\d/},
  {pattern: /\[[0-9a-fA-F:]{2,39}\]:\d{1,5}\b|\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10}):\d{1,5}\b|\b\d{1,3}(?:\.\d{1,3}){3}\b/g, placeholder: '<host>', needs: /\d[.:\]]|:\d/},
  // Hex words without a digit (deadbeefcafe); every word with a digit (0x1f, ord_8f3k2, v2, 42, 3.14) is the next pass's.
  {pattern: /\b[a-fA-F]{8,128}\b/g, placeholder: '<n>', needs: /[a-fA-F]{8}/},
  {pattern: /\b[A-Za-z_]{0,64}\d[A-Za-z0-9_]{0,128}(?:\.\d{1,64}\b)?/g, placeholder: '<n>', needs: /\d/},
]

/**
 * The error text with its varying parts replaced, so that the same failure with other ids reads the same.
 *
 * | in the text                                            | becomes                  |
 * | ------------------------------------------------------ | ------------------------ |
 * | null, undefined, empty or only white space             | '' (no error text)       |
 * | several lines (a stack trace)                          | its first non-empty line |
 * | more than READ_CHARS characters (or bytes of a Buffer) | only the first READ_CHARS read |
 * | bytes that are not UTF-8                               | U+FFFD, like any decoder |
 * | a quoted value: "…", '…', `…`                          | <q>                      |
 * | a UUID                                                 | <uuid>                   |
 * | a date or time: 2026-12-01T08:53:38.120Z, 08:53:38     | <time>                   |
 * | host:port, [v6]:port, an IPv4 address                  | <host>                   |
 * | hex: 0x1f, or 8 or more hex digits                     | <n>                      |
 * | an id: one word of letters and digits (ord_8f3k2, v2)  | <n>                      |
 * | a number: 42, 3.14                                     | <n>                      |
 * | runs of white space                                    | one space                |
 * | longer than PATTERN_CHARS once normalized              | cut to PATTERN_CHARS     |
 * Case and every other character are kept: NullReferenceException and TimeoutException stay apart.
 */
export function errorPattern(error: string | Buffer | null | undefined): string {
  if (error === null || error === undefined) return ''
  const head = Buffer.isBuffer(error) ? error.subarray(0, READ_CHARS).toString('utf8') : error.slice(0, READ_CHARS)
  const line = head.split(/\r?\n/).find((l) => l.trim() !== '') ?? ''
  let text = line
  // A pass whose telltale character is absent cannot match: most texts skip most passes.
  for (const {pattern, placeholder, needs} of VARYING) if (needs.test(text)) text = text.replace(pattern, placeholder)
  return text.replaceAll(/\s+/g, ' ').trim().slice(0, PATTERN_CHARS)
}

/** Recent fingerprints: most failures repeat one text exactly (NO_ROUTE), and the outbox scan meets each row once. */
const cache = new Map<string, string>()
const CACHE_SIZE = 10_000

/**
 * The fingerprint of a failure: 8 hex characters of SHA-256 over its parts, the same on every run and machine.
 *
 * | part                                       | in the fingerprint                                  |
 * | ------------------------------------------ | --------------------------------------------------- |
 * | error text                                 | errorPattern(error): varying parts removed          |
 * | subject (event type / routing key)         | as it is; none and '' are the same                   |
 * | reason, queue (broker dead letters only)   | as they are; none and '' are the same                |
 * | same pattern and parts, other ids or times | the same fingerprint                                |
 * | another pattern, subject, reason or queue  | another fingerprint (up to a 1 in 4·10⁹ collision)  |
 * The parts are hashed as a JSON array with a version tag, so no two different part lists hash the same text.
 */
export function fingerprint(parts: FailureParts): string {
  return fingerprintOfPattern(errorPattern(parts.error), parts)
}

/** The fingerprint once the error's pattern is known (outbox failures shows the pattern too). */
export function fingerprintOfPattern(pattern: string, parts: Omit<FailureParts, 'error'>): string {
  const text = JSON.stringify(['fp1', pattern, parts.subject ?? '', parts.reason ?? '', parts.queue ?? ''])
  let key = cache.get(text)
  if (key === undefined) {
    key = createHash('sha256').update(text).digest('hex').slice(0, 8)
    if (cache.size >= CACHE_SIZE) cache.clear()
    cache.set(text, key)
  }
  return key
}

/** A fingerprint or dlq group key as typed: 8 hex characters. */
export function isFingerprint(text: string): boolean {
  return /^[0-9a-f]{8}$/.test(text)
}
