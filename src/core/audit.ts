import {hostname, userInfo} from 'node:os'

import {maskArgv, maskSecrets} from './mask.js'
import type {SqlPort} from './ports.js'
import {auditDdl} from './schema.js'
import {qid} from './sql.js'

export interface AuditEntry {
  command: string
  argv: readonly string[]
  outcome: Record<string, unknown>
  exitCode: number
}

function osUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'unknown'
  }
}

/**
 * Appends one row to the audit table, creating the table when it is missing,
 * so that a state-changing command is recorded even on a schema msgops did not create.
 */
export async function writeAudit(sql: SqlPort, table: string, entry: AuditEntry): Promise<void> {
  const args = JSON.stringify(maskArgv(entry.argv))
  const outcome = maskSecrets(JSON.stringify(entry.outcome))
  const insert = `INSERT INTO ${qid(table)} (os_user, host, command, arguments, outcome, exit_code) VALUES (?, ?, ?, ?, ?, ?)`
  const params = [osUser().slice(0, 128), hostname().slice(0, 255), entry.command.slice(0, 128), args, outcome, entry.exitCode]
  try {
    await sql.execute(insert, params)
  } catch (error) {
    if (!/doesn't exist|ER_NO_SUCH_TABLE/i.test((error as Error).message)) throw error
    await sql.execute(auditDdl(table))
    await sql.execute(insert, params)
  }
}
