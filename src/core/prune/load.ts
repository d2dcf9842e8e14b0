import {ConfigError} from '../errors.js'
import type {Row, SqlExecutor} from '../ports.js'
import type {LoadReading} from './decide.js'

/** Reads the figures the throttle decides on. */
export interface LoadProbe {
  read(): Promise<LoadReading>
}

export interface NamedReplica {
  /** host:port, never the URL (it may hold a password). */
  name: string
  sql: SqlExecutor
}

/** The replica status row: SHOW REPLICA STATUS (MariaDB 10.5+, MySQL 8.0.22+), else SHOW SLAVE STATUS. */
async function replicaStatus(sql: SqlExecutor): Promise<Row | undefined> {
  try {
    return (await sql.query('SHOW REPLICA STATUS'))[0]
  } catch {
    return (await sql.query('SHOW SLAVE STATUS'))[0]
  }
}

function lagOf(row: Row): number | null {
  const value = row.Seconds_Behind_Master ?? row.Seconds_Behind_Source
  return value === null || value === undefined ? null : Number(value)
}

/** The statements that read or write rows: others' count of them tells --pace auto whether the server is in use. */
export const ROW_STATEMENTS = ['Com_select', 'Com_insert', 'Com_insert_select', 'Com_update', 'Com_update_multi', 'Com_delete', 'Com_delete_multi', 'Com_replace', 'Com_replace_select']
/** Per chunk: this run's own candidate SELECT and DELETE, and with an archive the SELECT … FOR UPDATE. */
export const OWN_STATEMENTS = {plain: 2, archived: 3}

const STATUS_SQL = `SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_running', ${ROW_STATEMENTS.map((n) => `'${n}'`).join(', ')})`

/** Threads_running of the primary, its row statements so far, and the lag of each replica, read before every chunk. */
export class ServerLoad implements LoadProbe {
  constructor(
    private readonly primary: SqlExecutor,
    private readonly replicas: NamedReplica[],
  ) {}

  /** Refuses, before anything is deleted, a replica URL that points at a server that replicates nothing. */
  async check(): Promise<void> {
    for (const replica of this.replicas)
      if ((await replicaStatus(replica.sql)) === undefined)
        throw new ConfigError(`${replica.name} is not a replica (SHOW REPLICA STATUS is empty), so its lag cannot be watched`, 'check --replica-url / mysql.replicaUrl')
  }

  async read(): Promise<LoadReading> {
    const rows = await this.primary.query<{Variable_name: unknown; Value: unknown}>(STATUS_SQL)
    const at = Date.now()
    let threadsRunning = 0
    let statements = 0
    for (const row of rows) {
      const name = String(row.Variable_name).toLowerCase()
      if (name === 'threads_running') threadsRunning = Number(row.Value)
      else statements += Number(row.Value)
    }
    const replicas = []
    for (const replica of this.replicas) {
      const row = await replicaStatus(replica.sql)
      replicas.push({name: replica.name, lagS: row ? lagOf(row) : null})
    }
    return {threadsRunning, statements, at, replicas}
  }
}
