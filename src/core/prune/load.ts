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

/** Threads_running of the primary and the lag of each replica, read before every chunk. */
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
    const [threads] = await this.primary.query<{Value: unknown}>("SHOW GLOBAL STATUS LIKE 'Threads_running'")
    const replicas = []
    for (const replica of this.replicas) {
      const row = await replicaStatus(replica.sql)
      replicas.push({name: replica.name, lagS: row ? lagOf(row) : null})
    }
    return {threadsRunning: Number(threads?.Value ?? 0), replicas}
  }
}
