import type {FailureGroup} from './model.js'

/**
 * The group of a dead-letter row's last error: a simple stand-in for a shared error fingerprint (replace this one
 * function when there is one). Its first line, with what varies between rows of one cause made alike:
 *
 * | in the error                                  | becomes |
 * | --------------------------------------------- | ------- |
 * | a UUID                                        | <uuid>  |
 * | a hex run of 8 or more with a digit (hashes)  | <hex>   |
 * | a number (ids, ports, durations, counts)      | #       |
 * | runs of white space                           | one space |
 * | more than 120 characters                      | cut at 120 |
 * | nothing (NULL or blank)                       | (no error recorded) |
 */
export function failureGroupOf(lastError: string | null | undefined): string {
  const first = (lastError ?? '').split(/\r?\n/).find((line) => line.trim() !== '')?.trim() ?? ''
  if (first === '') return '(no error recorded)'
  return first
    .replaceAll(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>')
    .replaceAll(/\b(?:0x)?[0-9a-f]{8,}\b/gi, (m) => (/\d/.test(m) ? '<hex>' : m))
    .replaceAll(/\d+(?:\.\d+)?/g, '#')
    .replaceAll(/\s+/g, ' ')
    .slice(0, 120)
}

/** The largest groups, largest first (ties by key), each with one of its errors as a sample. */
export function topFailureGroups(errors: (string | null)[], top: number, groupOf: (error: string | null) => string = failureGroupOf): FailureGroup[] {
  const groups = new Map<string, FailureGroup>()
  for (const error of errors) {
    const key = groupOf(error)
    const group = groups.get(key)
    if (group) group.count++
    else groups.set(key, {key, count: 1, sample: (error ?? '').slice(0, 200)})
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(0, top)
}

/**
 * Text that `outbox requeue --error-contains` can select a group's rows by: the longest run of the key without a
 * placeholder (what every row of the group has in common), at most 60 characters.
 */
export function commonFragment(key: string): string {
  const runs = key.split(/<uuid>|<hex>|#/).map((s) => s.trim())
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a), '')
  return longest.slice(0, 60)
}
