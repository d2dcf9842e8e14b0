import {ConfigError} from './errors.js'

/** Letters, digits, _ and $, starting with a letter or _; at most 64 characters (the MySQL limit). */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/

export function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name)
}

/** Quotes a configured identifier; refuses anything that is not a plain identifier, so no text reaches SQL raw. */
export function qid(name: string): string {
  if (!isIdentifier(name)) throw new ConfigError(`"${name.slice(0, 64)}" is not a valid SQL identifier`, 'use letters, digits and _ only')
  return `\`${name}\``
}
