import type {Config} from '../config/schema.js'
import {OperationError} from './errors.js'
import type {SqlExecutor} from './ports.js'

export type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'CREATE' | 'DROP' | 'ALTER'
export type TableKey = 'outbox' | 'inbox' | 'orders' | 'audit'

/** One grant as SHOW GRANTS states it: privileges on `db`.`table` (`*` for all). */
export interface Grant {
  privileges: Set<string>
  db: string
  table: string
}

/**
 * What each command needs of the mapped tables (docs/security.md shows the same as GRANT statements). The audit table
 * needs INSERT for every run that changes something, and CREATE the first time (it is made when missing).
 *
 * | command                                                      | outbox          | inbox           | orders | audit  |
 * | ------------------------------------------------------------ | --------------- | --------------- | ------ | ------ |
 * | outbox status, list, show; trace; top; audit; reconcile      | SELECT          | SELECT          | SELECT | SELECT |
 * | outbox drain, outbox requeue                                 | SELECT, UPDATE  |                 |        | INSERT |
 * | reconcile --fix                                              | SELECT, UPDATE  | SELECT          | SELECT | INSERT |
 * | outbox prune                                                 | SELECT, DELETE  |                 |        | INSERT |
 * | inbox prune                                                  |                 | SELECT, DELETE  |        | INSERT |
 * | dlq replay, dlq purge, dlq restore                           |                 |                 |        | INSERT |
 * | outbox edit                                                  | SELECT, UPDATE  |                 |        | INSERT |
 * | outbox discard                                               | SELECT, DELETE  |                 |        | INSERT |
 */
export const COMMAND_NEEDS: Record<string, Partial<Record<TableKey, Privilege[]>>> = {
  read: {outbox: ['SELECT'], inbox: ['SELECT'], orders: ['SELECT'], audit: ['SELECT']},
  'outbox drain': {outbox: ['SELECT', 'UPDATE'], audit: ['INSERT']},
  'outbox requeue': {outbox: ['SELECT', 'UPDATE'], audit: ['INSERT']},
  'reconcile --fix': {outbox: ['SELECT', 'UPDATE'], inbox: ['SELECT'], orders: ['SELECT'], audit: ['INSERT']},
  'outbox prune': {outbox: ['SELECT', 'DELETE'], audit: ['INSERT']},
  'inbox prune': {inbox: ['SELECT', 'DELETE'], audit: ['INSERT']},
  'dlq replay, purge, restore': {audit: ['INSERT']},
  'outbox edit': {outbox: ['SELECT', 'UPDATE'], audit: ['INSERT']},
  'outbox discard': {outbox: ['SELECT', 'DELETE'], audit: ['INSERT']},
}

const PRIVILEGES = new Set<string>(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'ALL', 'ALL PRIVILEGES', 'USAGE'])

/**
 * The grants of SHOW GRANTS lines, or null when one cannot be read with certainty (roles, column privileges, procedures):
 * then msgops does not claim to know and checks nothing. Column privileges never count as the table's.
 */
export function parseGrants(lines: string[]): Grant[] | null {
  const grants: Grant[] = []
  for (const line of lines) {
    const match = /^GRANT (.+?) ON (?:TABLE )?(\S+?)\.(\S+) TO /i.exec(line)
    if (!match) {
      if (/^GRANT PROXY ON /i.test(line)) continue
      return null
    }
    // "UPDATE (status)" is a column privilege, not the table's; privileges msgops has no use for (EVENT, …) are left out.
    const names = match[1].split(/,(?![^(]*\))/).map((p) => p.trim().toUpperCase())
    const privileges = new Set(names.filter((p) => !p.includes('(') && PRIVILEGES.has(p)))
    grants.push({privileges, db: unquote(match[2]), table: unquote(match[3])})
  }
  return grants
}

function unquote(name: string): string {
  return name.replace(/^[`'"]|[`'"]$/g, '').replaceAll('``', '`')
}

/** Whether the grants allow a privilege on db.table (database and table names compared case-insensitively). */
export function allows(grants: Grant[], db: string, table: string, privilege: Privilege): boolean {
  return grants.some((g) => {
    const dbOk = g.db === '*' || g.db.toLowerCase() === db.toLowerCase() || (/[%_]/.test(g.db) && likeMatches(g.db, db))
    const tableOk = g.table === '*' || g.table.toLowerCase() === table.toLowerCase()
    return dbOk && tableOk && (g.privileges.has(privilege) || g.privileges.has('ALL') || g.privileges.has('ALL PRIVILEGES'))
  })
}

/** A database name against a grant's LIKE pattern: % any run, _ one character, \\% and \\_ themselves. */
function likeMatches(pattern: string, name: string): boolean {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]
    if (ch === '\\' && i + 1 < pattern.length) re += escapeRegex(pattern[++i])
    else if (ch === '%') re += '.*'
    else if (ch === '_') re += '.'
    else re += escapeRegex(ch)
  }
  return new RegExp(`^${re}$`, 'i').test(name)
}

function escapeRegex(ch: string): string {
  return ch.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** The grants the MySQL user has, or null when they cannot be read with certainty. */
export async function readGrants(sql: SqlExecutor): Promise<{user: string; db: string; grants: Grant[] | null}> {
  const [who] = await sql.query<{u: string; d: string | null}>('SELECT CURRENT_USER() AS u, DATABASE() AS d')
  const rows = await sql.query('SHOW GRANTS')
  return {user: String(who.u), db: String(who.d ?? ''), grants: parseGrants(rows.map((r) => String(Object.values(r)[0])))}
}

function tableName(config: Config, key: TableKey): string {
  return key === 'audit' ? config.audit.table : config[key].table
}

/** The privileges a command lacks on the mapped tables ("UPDATE on outbox"); none when the grants are unknown. */
export function missingFor(command: string, config: Config, db: string, grants: Grant[] | null): string[] {
  if (grants === null) return []
  const missing: string[] = []
  for (const [key, privileges] of Object.entries(COMMAND_NEEDS[command] ?? {}) as [TableKey, Privilege[]][])
    for (const privilege of privileges) if (!allows(grants, db, tableName(config, key), privilege)) missing.push(`${privilege} on ${tableName(config, key)}`)
  return missing
}

/**
 * Refuses a state-changing command at once, before anything is published or changed, when the MySQL user lacks what it
 * needs: a drain that may not UPDATE would publish rows it cannot mark sent.
 */
export async function requirePrivileges(sql: SqlExecutor, config: Config, command: string): Promise<void> {
  const {user, db, grants} = await readGrants(sql)
  const missing = missingFor(command, config, db, grants)
  if (missing.length === 0) return
  throw new OperationError(
    `the MySQL user ${user} lacks ${missing.join(', ')}, which msgops ${command} needs; nothing was changed`,
    `grant it (docs/security.md lists the grants of each command), or run as a user that has it`,
  )
}
