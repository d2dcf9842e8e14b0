/** What oclif's parser puts on its errors that tells what was wrong. */
export interface ParseErrorLike {
  message: string
  /** NonExistentFlagsError: the unknown flags as typed. */
  flags?: string[]
  /** RequiredArgsError: the missing arguments; UnexpectedArgsError: the extra ones as typed. */
  args?: ({name?: string; description?: string} | string)[]
}

/**
 * One line, with the reason and what to do, for an oclif parse error (oclif's own text spans several lines and its
 * first line alone loses the reason: "Missing 1 required arg:", "Parsing --limit ").
 *
 * | oclif error                          | message                                             | suggestion                   |
 * | ------------------------------------ | --------------------------------------------------- | ---------------------------- |
 * | unknown flag, a close known one      | unknown flag --limt                                 | did you mean --limit?        |
 * | unknown flag, nothing close          | unknown flag --zzz                                  | see `msgops CMD --help`      |
 * | missing argument(s)                  | missing argument ID: the outbox row id              | see `msgops CMD --help`      |
 * | unexpected argument(s)               | unexpected argument "b"                             | see `msgops CMD --help`      |
 * | a flag's value refused               | --limit: expected an integer but received: abc      | see `msgops CMD --help`      |
 * | anything else (constraints, options) | oclif's lines joined, "See more help" dropped       | see `msgops CMD --help`      |
 */
export function parseErrorLine(error: ParseErrorLike, knownFlags: string[], command: string): {message: string; suggestion: string} {
  const help = `see \`msgops ${command} --help\``
  const lines = error.message
    .replaceAll(/\u001B\[[\d;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^See more help with --help$/.test(l))
  if (error.flags && error.flags.length > 0) {
    const typed = error.flags[0]
    const close = closest(typed.replace(/^-+/, '').split('=')[0], knownFlags)
    const message = `unknown flag${error.flags.length > 1 ? 's' : ''} ${error.flags.join(', ')}`
    return {message, suggestion: close ? `did you mean --${close}?` : help}
  }
  if (/^Missing \d+ required arg/.test(lines[0] ?? '') && error.args) {
    const named = error.args.filter((a): a is {name?: string; description?: string} => typeof a !== 'string')
    const message = named.length === 1 && named[0].description
      ? `missing argument ${(named[0].name ?? '').toUpperCase()}: ${named[0].description}`
      : `missing argument${named.length > 1 ? 's' : ''} ${named.map((a) => (a.name ?? '').toUpperCase()).join(', ')}`
    return {message, suggestion: help}
  }
  if (/^Unexpected argument/.test(lines[0] ?? '') && error.args) {
    const extra = error.args.map((a) => `"${typeof a === 'string' ? a : a.name}"`).join(', ')
    return {message: `unexpected argument${error.args.length > 1 ? 's' : ''} ${extra}`, suggestion: help}
  }
  const parsing = /^Parsing (--[\w-]+)\s*$/.exec(lines[0] ?? '')
  if (parsing && lines.length > 1) return {message: `${parsing[1]}: ${lowerFirst(lines.slice(1).join(' '))}`, suggestion: help}
  const joined = lines.filter((l) => !/^The following errors? occurred:?$/.test(l)).join('; ')
  return {message: lowerFirst(joined || error.message.trim()), suggestion: help}
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text
}

/** The known name nearest to the typed one: at most two edits away, or one it starts (a shortened flag). */
export function closest(typed: string, known: string[]): string | undefined {
  let best: {name: string; distance: number} | undefined
  for (const name of known) {
    const distance = name.startsWith(typed) && typed.length >= 3 ? 1 : editDistance(typed, name)
    if (distance <= 2 && (!best || distance < best.distance)) best = {name, distance}
  }
  return best?.name
}

/** Levenshtein distance, with an adjacent swap counted as one edit (--limti). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({length: a.length + 1}, (_, i) => Array.from({length: b.length + 1}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  return d[a.length][b.length]
}
