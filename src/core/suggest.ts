/** "Did you mean …?" for mistyped commands and flags. */

/** Edits from a to b: insertions, deletions, substitutions and swaps of two neighbours ("hepl" is one from "help"). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({length: a.length + 1}, (_v, i) => Array.from({length: b.length + 1}, (_w, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  return d[a.length][b.length]
}

function isSubsequence(word: string, of: string): boolean {
  let i = 0
  for (const c of of) if (c === word[i]) i++
  return i === word.length
}

/**
 * The candidate a mistyped word most likely meant, or undefined when none is close enough to be a guess worth printing.
 *
 * | the word                                                               | suggestion              |
 * | ---------------------------------------------------------------------- | ----------------------- |
 * | equals a candidate, ignoring case                                      | that candidate          |
 * | within max(1, ⌊candidate length / 3⌋) edits of one or more candidates  | the nearest (see below) |
 * | 3+ characters and the start of exactly one candidate                   | that candidate          |
 * | anything else                                                          | none                    |
 *
 * Between equally near candidates, one that holds the word's letters in order wins ("limt": limit, not list: a
 * dropped letter is the commonest typo), else the first.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase()
  const exact = candidates.find((c) => c.toLowerCase() === lower)
  if (exact !== undefined) return exact
  let best: {candidate: string; distance: number; holds: boolean} | undefined
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase())
    if (distance > Math.max(1, Math.floor(candidate.length / 3))) continue
    const holds = isSubsequence(lower, candidate.toLowerCase())
    if (!best || distance < best.distance || (distance === best.distance && holds && !best.holds)) best = {candidate, distance, holds}
  }
  if (best) return best.candidate
  const starting = lower.length >= 3 ? candidates.filter((c) => c.toLowerCase().startsWith(lower)) : []
  return starting.length === 1 ? starting[0] : undefined
}

/**
 * The command a mistyped command line meant, and the words after it (its arguments and flags, in their order): oclif
 * hands over `dlq inspet order_queue.dlq` as one id, `dlq:inspet:order_queue.dlq`. Each command is compared with as
 * many leading words (before the first flag) as it has; the nearest wins, a longer command on a tie.
 */
export function suggestCommand(words: readonly string[], commandIds: readonly string[]): {command: string; args: string[]} | undefined {
  let best: {command: string; args: string[]; distance: number; depth: number} | undefined
  const firstFlag = words.findIndex((w) => w.startsWith('-'))
  const leading = firstFlag === -1 ? words.length : firstFlag
  const depths = new Set(commandIds.map((id) => id.split(':').length))
  for (const depth of depths) {
    if (depth > leading) continue
    const typed = words.slice(0, depth).join(' ')
    const ids = commandIds.filter((id) => id.split(':').length === depth).map((id) => id.replaceAll(':', ' '))
    const command = closest(typed, ids)
    if (command === undefined) continue
    const distance = editDistance(typed, command)
    if (!best || distance < best.distance || (distance === best.distance && depth > best.depth)) best = {command, args: words.slice(depth), distance, depth}
  }
  return best && {command: best.command, args: best.args}
}

/** For oclif's "Nonexistent flag: --limt": `did you mean --limit?`, from the flag names the command has. */
export function suggestFlag(unknownFlags: unknown, flagNames: readonly string[]): string | undefined {
  if (!Array.isArray(unknownFlags) || unknownFlags.length === 0) return undefined
  const hints = unknownFlags.map((flag) => {
    const name = String(flag).replace(/^-+/, '').replace(/=.*$/, '')
    const match = closest(name, flagNames)
    return match === undefined ? undefined : `--${match}`
  })
  const found = hints.filter((h): h is string => h !== undefined)
  return found.length > 0 ? `did you mean ${found.join(', ')}?` : undefined
}
