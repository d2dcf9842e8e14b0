import {ConfigError} from './errors.js'
import type {Row, SqlExecutor} from './ports.js'
import {qid} from './sql.js'

/** A pt-heartbeat style table: a time column the primary updates every second (mysql.heartbeat). */
export interface Heartbeat {
  table: string
  column: string
}

/** What a replica says about itself. */
export interface ReplicaState {
  /** Both replication threads run. */
  replicating: boolean
  /** Seconds behind the primary; null when it cannot be told (replication stopped, no heartbeat yet). */
  lagS: number | null
  /** Where the lag comes from. */
  lagFrom: 'replica status' | 'heartbeat'
  /** @@read_only (or @@super_read_only): writes by ordinary users are refused. */
  readOnly: boolean
}

/** The replica status row: SHOW REPLICA STATUS (MariaDB 10.5.1+, MySQL 8.0.22+), else SHOW SLAVE STATUS; undefined when the server replicates nothing. */
export async function replicaStatusRow(sql: SqlExecutor): Promise<Row | undefined> {
  try {
    return (await sql.query('SHOW REPLICA STATUS'))[0]
  } catch {
    return (await sql.query('SHOW SLAVE STATUS'))[0]
  }
}

const yes = (value: unknown) => String(value ?? '').toLowerCase() === 'yes'

/**
 * The lag of a replica status row, in seconds.
 *
 * | SQL thread running | IO thread running | Seconds_Behind_* | lag                 |
 * | ------------------ | ----------------- | ---------------- | ------------------- |
 * | no                 | any               | any              | null (not applying) |
 * | yes                | any               | NULL             | null                |
 * | yes                | no                | N                | null (cannot know what it misses) |
 * | yes                | yes               | N                | N                   |
 */
export function lagOfStatus(row: Row): number | null {
  const sqlRunning = yes(row.Slave_SQL_Running ?? row.Replica_SQL_Running)
  const ioRunning = yes(row.Slave_IO_Running ?? row.Replica_IO_Running)
  const behind = row.Seconds_Behind_Master ?? row.Seconds_Behind_Source
  if (!sqlRunning || !ioRunning || behind === null || behind === undefined) return null
  return Number(behind)
}

/**
 * Reads a replica's state: its status row, its read_only flag, and its lag (from the heartbeat table when one is
 * configured: the primary's clock now minus the newest beat the replica holds, so that the two hosts' clocks need not
 * agree; else Seconds_Behind_Master/Source). A server that replicates nothing is a configuration error.
 */
export async function readReplica(replica: SqlExecutor, primary: SqlExecutor, name: string, heartbeat?: Heartbeat | null): Promise<ReplicaState> {
  const row = await replicaStatusRow(replica)
  if (row === undefined) throw new ConfigError(`${name} is not a replica (SHOW REPLICA STATUS is empty), so reading from it could miss any write`, 'point --replica-url / mysql.replicaUrl at a replica, or leave it out to read from the primary')
  const [flags] = await replica.query<{ro: unknown}>('SELECT @@global.read_only AS ro')
  const replicating = yes(row.Slave_SQL_Running ?? row.Replica_SQL_Running) && yes(row.Slave_IO_Running ?? row.Replica_IO_Running)
  const readOnly = Number(flags?.ro ?? 0) === 1 || String(flags?.ro).toUpperCase() === 'ON'
  if (!heartbeat) return {replicating, lagS: lagOfStatus(row), lagFrom: 'replica status', readOnly}
  const [now] = await primary.query<{t: unknown}>('SELECT UNIX_TIMESTAMP(NOW(6)) AS t')
  const [beat] = await replica.query<{t: unknown}>(`SELECT UNIX_TIMESTAMP(MAX(${qid(heartbeat.column)})) AS t FROM ${qid(heartbeat.table)}`)
  const lagS = beat?.t === null || beat?.t === undefined || !replicating ? null : Math.max(0, Number(now?.t) - Number(beat.t))
  return {replicating, lagS, lagFrom: 'heartbeat', readOnly}
}

/** Threads_running of a server: the statements running on it now, this one included. */
export async function threadsRunning(sql: SqlExecutor): Promise<number> {
  const [row] = await sql.query<{Value: unknown}>("SHOW GLOBAL STATUS LIKE 'Threads_running'")
  return Number(row?.Value ?? 0)
}
