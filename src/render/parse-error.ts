import {suggestFlag} from '../core/suggest.js'

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
  if (error.flags && error.flags.length > 0)
    return {message: `unknown flag${error.flags.length > 1 ? 's' : ''} ${error.flags.join(', ')}`, suggestion: suggestFlag(error.flags, knownFlags) ?? help}
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
