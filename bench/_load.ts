/**
 * What the benches' server-side loaders share: the reference schema's keys (referenceDdl), the time indexes dropped
 * for a large load and added back after it, and the check that a loaded database has exactly the schema's keys.
 */
import type {Config} from '../src/config/schema.js'
import type {SqlExecutor} from '../src/core/ports.js'
import {referenceDdl} from '../src/core/schema.js'
import {qid} from '../src/core/sql.js'

/** Orders per INSERT … SELECT from a sequence table (seq_S_to_E): a chunk's rows of each table are one statement. */
export const LOAD_CHUNK = 500_000

/**
 * The reference schema's indexes that begin with a time column: when the rows' times repeat in a cycle (the benches
 * give row i a time (i mod 3600) seconds from a base), each chunk inserts into 3,600 places spread over each of them,
 * which at millions of rows no longer fit MariaDB's 128 MB buffer pool (2026-12-01: reconcile's chunks of 500,000
 * orders slowed from 13 s to 148 s by 2,000,000; trace's outbox loaded at ~250,000 rows a minute). Built once after
 * the load instead, by sorting. The other keys grow at their end (ids in load order) and stay.
 */
export const TIME_INDEXES = ['idx_orders_created_at', 'idx_outbox_status_created', 'idx_outbox_created_at', 'idx_outbox_sent_at', 'idx_inbox_status_received', 'idx_inbox_received_message']

export interface Key {
  table: string
  /** PRIMARY for the primary key. */
  name: string
  unique: boolean
  columns: string[]
}

/** The keys referenceDdl(config) creates for the orders, outbox and inbox tables (not the audit table). */
export function schemaKeys(config: Config): Key[] {
  const tables = new Set([config.orders.table, config.outbox.table, config.inbox.table])
  const keys: Key[] = []
  for (const ddl of referenceDdl(config)) {
    const table = /^CREATE TABLE IF NOT EXISTS `([^`]+)`/.exec(ddl)?.[1]
    if (!table || !tables.has(table)) continue
    for (const line of ddl.split('\n')) {
      const m = /^\s*(PRIMARY KEY|UNIQUE KEY `([^`]+)`|KEY `([^`]+)`) \((.*)\),?$/.exec(line)
      if (!m) continue
      const columns = m[4].split(', ').map((c) => c.replace(/^`|`$/g, ''))
      keys.push({table, name: m[2] ?? m[3] ?? 'PRIMARY', unique: !m[3], columns})
    }
  }
  return keys
}

/** The keys the tables have now (information_schema.STATISTICS of the current database). */
export async function tableKeys(sql: SqlExecutor, tables: string[]): Promise<Key[]> {
  const rows = await sql.query<{t: string; name: string; nonUnique: number | string; cols: string}>(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS name, MAX(NON_UNIQUE) AS nonUnique, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS cols
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) GROUP BY TABLE_NAME, INDEX_NAME`,
    [tables],
  )
  return rows.map((r) => ({table: r.t, name: r.name, unique: Number(r.nonUnique) === 0, columns: r.cols.split(',')}))
}

const tablesOf = (config: Config) => [config.orders.table, config.outbox.table, config.inbox.table]
const byTable = (keys: Key[]) => {
  const map = new Map<string, Key[]>()
  for (const k of keys) map.set(k.table, [...(map.get(k.table) ?? []), k])
  return map
}

/** Drops the TIME_INDEXES the tables have, one ALTER per table. */
export async function dropTimeIndexes(sql: SqlExecutor, config: Config): Promise<void> {
  const present = (await tableKeys(sql, tablesOf(config))).filter((k) => TIME_INDEXES.includes(k.name))
  for (const [table, keys] of byTable(present)) await sql.execute(`ALTER TABLE ${qid(table)} ${keys.map((k) => `DROP KEY ${qid(k.name)}`).join(', ')}`)
}

/**
 * Adds the schema's keys the tables lack, one ALTER per table (one sort pass over it); `log` hears each statement and
 * its seconds. Keys the tables have beyond the schema's are left.
 */
export async function addMissingKeys(sql: SqlExecutor, config: Config, log: (line: string) => void = () => {}): Promise<void> {
  const have = new Set((await tableKeys(sql, tablesOf(config))).map((k) => `${k.table}.${k.name}`))
  const missing = schemaKeys(config).filter((k) => !have.has(`${k.table}.${k.name}`))
  for (const [table, keys] of byTable(missing)) {
    const statement = `ALTER TABLE ${qid(table)} ${keys.map((k) => `ADD ${k.name === 'PRIMARY' ? 'PRIMARY KEY' : `${k.unique ? 'UNIQUE ' : ''}KEY ${qid(k.name)}`} (${k.columns.map(qid).join(', ')})`).join(', ')}`
    const started = Date.now()
    await sql.execute(statement)
    log(`${statement}: ${((Date.now() - started) / 1000).toFixed(1)}s`)
  }
}

/** How the tables' keys differ from the schema's ([] when they are exactly those); keys named in `extra` may be there too. */
export async function keyDifferences(sql: SqlExecutor, config: Config, extra: string[] = []): Promise<string[]> {
  const show = (k: Key) => `${k.table}.${k.name} (${k.columns.join(', ')}${k.unique ? ', unique' : ''})`
  const have = new Map((await tableKeys(sql, tablesOf(config))).map((k) => [`${k.table}.${k.name}`, k]))
  const differences: string[] = []
  for (const want of schemaKeys(config)) {
    const got = have.get(`${want.table}.${want.name}`)
    have.delete(`${want.table}.${want.name}`)
    if (!got) differences.push(`missing ${show(want)}`)
    else if (show(got) !== show(want)) differences.push(`${show(got)} instead of ${show(want)}`)
  }
  for (const k of have.values()) if (!extra.includes(k.name)) differences.push(`extra ${show(k)}`)
  return differences
}
