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

/**
 * Whether `SELECT … FOR UPDATE SKIP LOCKED` is supported.
 *
 * | server  | version   | supported |
 * | ------- | --------- | --------- |
 * | MariaDB | >= 10.6   | yes       |
 * | MariaDB | <  10.6   | no        |
 * | MySQL   | >= 8.0.1  | yes       |
 * | MySQL   | <  8.0.1  | no        |
 * | unknown | anything  | no        |
 */
export function supportsSkipLocked(version: string): boolean {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version)
  if (!match) return false
  const [major, minor, patch] = match.slice(1).map(Number)
  if (/mariadb/i.test(version)) return major > 10 || (major === 10 && minor >= 6)
  return major > 8 || (major === 8 && (minor > 0 || patch >= 1))
}
