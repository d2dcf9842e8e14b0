import type {Config} from '../config/schema.js'
import type {SqlPort} from './ports.js'
import {COMMAND_NEEDS, missingFor, readGrants} from './privileges.js'
import {supportsSkipLocked} from './sql.js'
import {indexColumns, leadsPrimaryKey, narrowIndex} from './introspect.js'
import {readReplica} from './replica.js'
import {inspectTables, type TableCheck} from './tables.js'

export interface Probe {
  /** The URL as it may be shown: password masked. */
  url: string
  version(): Promise<string>
  ping(): Promise<void>
}

/** A service doctor reached, or the error that says why it could not. */
export type Reached<T> = {ok: true; value: T} | {ok: false; error: Error}

export interface DoctorPorts {
  sql: Reached<SqlPort & {url: string}>
  broker: Reached<Probe>
  cache: Reached<Probe>
  /** The management API, at the configured URL or at the default one that topology uses too. */
  management: Probe
  /** The read replicas of mysql.replicaUrl, each reached or not. */
  replicas?: {url: string; reached: Reached<SqlPort>}[]
}

export interface DoctorCheck {
  name: string
  ok: boolean
  detail: string
  latencyMs?: number
}

export interface DoctorReport {
  ok: boolean
  checks: DoctorCheck[]
}


async function timed<T>(work: () => Promise<T>): Promise<{value: T; ms: number}> {
  const start = performance.now()
  const value = await work()
  return {value, ms: Math.round((performance.now() - start) * 10) / 10}
}

async function probeCheck(name: string, probe: Probe): Promise<DoctorCheck> {
  try {
    const {ms} = await timed(() => probe.ping())
    const version = await probe.version()
    return {name, ok: true, detail: `${version} at ${probe.url}`, latencyMs: ms}
  } catch (error) {
    return {name, ok: false, detail: (error as Error).message}
  }
}

function tableChecks(check: TableCheck): DoctorCheck[] {
  const name = `mysql.${check.role}`
  if (!check.exists) return [{name, ok: false, detail: `table ${check.table} does not exist (run \`msgops schema init\` or map ${check.role}.table)`}]
  if (check.missingRequired.length > 0)
    return [{name, ok: false, detail: `table ${check.table} lacks required column(s) ${check.missingRequired.join(', ')} (map ${check.role}.columns)`}]
  const optional = check.missingOptional.length > 0 ? `; optional column(s) not present, so not used: ${check.missingOptional.join(', ')}` : ''
  return [{name, ok: true, detail: `table ${check.table} has every required column${optional}`}]
}

async function outboxIndexCheck(sql: SqlPort, config: Config, outbox: TableCheck): Promise<DoctorCheck> {
  const name = 'mysql.outbox.index'
  if (!outbox.exists) return {name, ok: false, detail: `table ${outbox.table} does not exist`}
  const columns = await indexColumns(sql, [outbox.table])
  const byIndex = new Map<string, string[]>()
  for (const c of columns) byIndex.set(c.index, [...(byIndex.get(c.index) ?? []), c.column.toLowerCase()])
  // Without a time column, the drain's and status's ranges are on status alone.
  const created = outbox.columns.createdAt
  const want = created ? [config.outbox.columns.status.toLowerCase(), created.toLowerCase()] : [config.outbox.columns.status.toLowerCase()]
  const id = config.outbox.columns.id
  // Advice, not a failure: without it reconcile reads the ids from the rows themselves, payloads and all.
  const advice = leadsPrimaryKey(columns, id) && narrowIndex(columns, id) === null ? `; reconcile would read the ids faster from an index of their own: CREATE INDEX idx_outbox_id ON ${outbox.table} (${id})` : ''
  for (const [index, cols] of byIndex) {
    if (want.every((c, i) => cols[i] === c)) return {name, ok: true, detail: `index ${index} covers (${want.join(', ')})${advice}`}
  }
  return {
    name,
    ok: false,
    detail: `no index starts with (${want.join(', ')}): status and drain scan the whole table; add one with CREATE INDEX idx_outbox_status_created ON ${outbox.table} (${want.join(', ')})${advice}`,
  }
}

/**
 * Every check of `msgops doctor`; a failed check is a finding, not an error. A service that cannot be reached gets its
 * failing row and the others are still checked; the checks of its tables are left out.
 */
export async function runDoctor(ports: DoctorPorts, config: Config): Promise<DoctorReport> {
  const checks: DoctorCheck[] = []
  if (ports.sql.ok) checks.push(...(await sqlChecks(ports.sql.value, config)))
  else {
    checks.push({name: 'mysql', ok: false, detail: ports.sql.error.message}, {name: 'mysql.tables', ok: false, detail: 'not checked: MySQL cannot be reached'})
  }
  for (const [n, replica] of (ports.replicas ?? []).entries()) checks.push(await replicaCheck(`mysql.replica${n === 0 ? '' : `.${n + 1}`}`, replica, ports.sql.ok ? ports.sql.value : undefined, config))
  if (ports.broker.ok) checks.push(await probeCheck('rabbitmq', ports.broker.value))
  else {
    checks.push({name: 'rabbitmq', ok: false, detail: ports.broker.error.message})
  }
  const management = await probeCheck('rabbitmq.management', ports.management)
  // Optional: only topology's full comparison, export and the broker's rates need it.
  if (!management.ok) management.detail = `${management.detail} (needed by topology plan/apply for arguments and bindings, and topology export)`
  checks.push(management)
  if (ports.cache.ok) checks.push(await probeCheck('redis', ports.cache.value))
  else {
    checks.push({name: 'redis', ok: false, detail: ports.cache.error.message})
  }
  return {ok: checks.every((c) => c.ok), checks}
}

async function sqlChecks(sql: SqlPort & {url: string}, config: Config): Promise<DoctorCheck[]> {
  const {value: version, ms} = await timed(() => sql.version())
  const checks: DoctorCheck[] = [{name: 'mysql', ok: true, detail: `${version} at ${sql.url}`, latencyMs: ms}]
  const tables = await inspectTables(sql, config)
  checks.push(...tableChecks(tables.outbox), ...tableChecks(tables.inbox), ...tableChecks(tables.orders))
  checks.push(await outboxIndexCheck(sql, config, tables.outbox))
  checks.push(await grantsCheck(sql, config))
  const skip = supportsSkipLocked(version)
  checks.push({
    name: 'mysql.skip-locked',
    ok: skip,
    detail: skip ? 'FOR UPDATE SKIP LOCKED is supported' : `${version} lacks FOR UPDATE SKIP LOCKED (needs MySQL 8.0.1+ or MariaDB 10.6+); drain runs under the Redis lock alone`,
  })
  return checks
}

/** Which commands the configured MySQL user may run (a read-only user is fine for status, trace, top and reconcile). */
async function grantsCheck(sql: SqlPort, config: Config): Promise<DoctorCheck> {
  const name = 'mysql.grants'
  const {user, db, grants} = await readGrants(sql)
  if (grants === null) return {name, ok: true, detail: `${user}: grants not read (roles or column grants); each command checks what it needs as it runs`}
  const can: string[] = []
  const cannot: string[] = []
  for (const command of Object.keys(COMMAND_NEEDS)) {
    const missing = missingFor(command, config, db, grants)
    if (missing.length === 0) can.push(command === 'read' ? 'the reading commands' : command)
    else cannot.push(`${command === 'read' ? 'the reading commands' : command} (lacks ${missing.join(', ')})`)
  }
  const readable = missingFor('read', config, db, grants).length === 0
  return {name, ok: readable, detail: `${user} may run ${can.length > 0 ? can.join(', ') : 'nothing'}${cannot.length > 0 ? `; not ${cannot.join('; ')}` : ''}`}
}

/**
 * A read replica: reachable, version and latency, its lag and whether it is read-only.
 *
 * | replica                                   | ok  |
 * | ----------------------------------------- | --- |
 * | cannot be reached, or replicates nothing  | no  |
 * | replication not running (lag unknown)     | no  |
 * | read_only OFF (a write there splits data) | no  |
 * | replicating and read-only                 | yes (its lag shown; reconcile pauses above --max-lag) |
 */
async function replicaCheck(name: string, replica: {url: string; reached: Reached<SqlPort>}, primary: SqlPort | undefined, config: Config): Promise<DoctorCheck> {
  if (!replica.reached.ok) return {name, ok: false, detail: replica.reached.error.message}
  const sql = replica.reached.value
  try {
    const {value: version, ms} = await timed(() => sql.version())
    const host = new URL(replica.url).host
    const state = await readReplica(sql, primary ?? sql, host, config.mysql.heartbeat)
    const lag = state.lagS === null ? 'lag unknown: replication is not running' : `lag ${Math.round(state.lagS * 10) / 10}s (${state.lagFrom})`
    const ro = state.readOnly ? 'read-only' : 'NOT read-only: a write sent there would split the data; SET GLOBAL read_only = ON'
    return {name, ok: state.replicating && state.lagS !== null && state.readOnly, detail: `${version} at ${replica.url}; ${lag}; ${ro}`, latencyMs: ms}
  } catch (error) {
    return {name, ok: false, detail: (error as Error).message}
  }
}
