import {access, constants} from 'node:fs/promises'
import {dirname} from 'node:path'

import type {Config} from '../../config/schema.js'
import type {ArchiveSink} from '../dlq/ports.js'
import {oneLine, UsageError} from '../errors.js'
import {fingerprint} from '../fingerprint.js'
import type {ProgressCallback, Row, SqlExecutor, SqlPort} from '../ports.js'
import type {TimeSpec} from '../reconcile/window.js'
import {type GroupPlan, planGroup, runGroupAction} from './failures.js'
import {type OutboxTable, resolveOutbox} from './table.js'

export interface DiscardOptions {
  config: Config
  group: string
  since?: TimeSpec
  until?: TimeSpec
  eventType?: string
  dryRun?: boolean
  /** Where the rows go before they are deleted; required unless withoutArchive. */
  archivePath?: string
  /** Delete without keeping a copy: said in the question and the audit. */
  withoutArchive?: boolean
  /** Rows per transaction (default 500). */
  batchSize?: number
  confirm?: (plan: GroupPlan & {archive: string | null}) => Promise<boolean>
  /** Nobody is asked (--yes): no counting pass, the rows are counted as they are deleted. */
  yes?: boolean
  signal?: AbortSignal
}

export interface DiscardResult extends GroupPlan {
  dryRun: boolean
  cancelled: boolean
  interrupted: boolean
  archive: string | null
  /** Rows written to the archive and flushed (fsync) before their delete committed. */
  archived: number
  discarded: number
}

/**
 * Whether a discard may start: the archive question is settled before anything is read or deleted.
 *
 * | --archive | --without-archive | dry run | result                                   |
 * | --------- | ----------------- | ------- | ---------------------------------------- |
 * | given     | given             | any     | usage error: one or the other            |
 * | given     | -                 | any     | archive, checked writable before asking  |
 * | -         | given             | any     | delete unkept (said in question, audit)  |
 * | -         | -                 | yes     | count only                               |
 * | -         | -                 | no      | usage error: say how the rows are kept   |
 */
export function archiveDecision(options: Pick<DiscardOptions, 'archivePath' | 'withoutArchive' | 'dryRun'>): 'archive' | 'unkept' | 'count' {
  if (options.archivePath !== undefined && options.withoutArchive) throw new UsageError('--archive and --without-archive contradict each other', 'pass one of them')
  if (options.archivePath !== undefined) return 'archive'
  if (options.withoutArchive) return 'unkept'
  if (options.dryRun) return 'count'
  throw new UsageError('outbox discard deletes rows: say where they are kept', 'pass --archive FILE.jsonl (each row as a JSON line, flushed before its delete), or --without-archive to delete them unkept')
}

/** Refuses an archive path that cannot be written, before the question and before any row is touched. */
export async function checkArchivePath(path: string): Promise<void> {
  try {
    await access(path, constants.W_OK)
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot write archive file ${path}: ${oneLine((error as Error).message)}`, 'check the path and its permissions; nothing was deleted')
  }
  try {
    await access(dirname(path), constants.W_OK)
  } catch (error) {
    throw new UsageError(`cannot create archive file ${path}: ${oneLine((error as Error).message)}`, 'check that its directory exists and is writable; nothing was deleted')
  }
}

function jsonValue(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString()
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  if (typeof value === 'bigint') return value.toString()
  return value
}

/** One archive line: the whole row, column by column as the table names them, times as ISO 8601 instants. */
export function archiveRowLine(table: OutboxTable, row: Row, archivedAt: Date): string {
  const columns = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, jsonValue(v)]))
  return `${JSON.stringify({archivedAt: archivedAt.toISOString(), table: table.name, messageId: String(row[table.names.id]), row: columns})}\n`
}

/** The fingerprint of a row read whole (SELECT *), exactly as the scan computes it from its columns. */
function rowFingerprint(table: OutboxTable, row: Row): string {
  const text = (name: string | null) => {
    const v = name === null ? null : row[name]
    return v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString('utf8') : String(v)
  }
  return fingerprint({error: text(table.names.lastError)?.slice(0, 4096), subject: text(table.names.eventType) ?? text(table.names.routingKey) ?? table.routingKey})
}

/**
 * Deletes one chunk in one transaction: the rows locked by primary key (still dead letters, still of the group),
 * appended to the archive and flushed, then deleted, then committed. A crash before the commit leaves them in the
 * table and in the archive: a later run archives them again (twice in the archive, never zero times).
 */
async function discardChunk(sql: SqlPort, table: OutboxTable, group: string, ids: string[], archive: ArchiveSink | undefined): Promise<{archived: number; deleted: number}> {
  return sql.transaction(async (tx: SqlExecutor) => {
    const {t, c} = table
    const rows = await tx.query(`SELECT * FROM ${t} FORCE INDEX (PRIMARY) WHERE ${c.id} IN (?) AND ${c.status} = ? FOR UPDATE`, [ids, table.statuses.deadLetter])
    const mine = rows.filter((r) => rowFingerprint(table, r) === group)
    if (mine.length === 0) return {archived: 0, deleted: 0}
    if (archive) await archive.append(mine.map((r) => archiveRowLine(table, r, new Date())))
    // Locked above, so the primary key alone names exactly these rows.
    const done = await tx.execute(`DELETE FROM ${t} WHERE ${c.id} IN (?)`, [mine.map((r) => String(r[table.names.id]))])
    return {archived: archive ? mine.length : 0, deleted: done.affectedRows}
  })
}

/**
 * Deletes the dead-letter rows of one failure group, each chunk archived (when asked) before its delete commits:
 * a counting pass for the question (none under --yes: counted as it goes), then the group's rows in keyset batches,
 * one chunk at a time (the archive is appended in the order of the deletes). Running it again resumes.
 */
export async function discardGroup(sql: SqlPort, options: DiscardOptions, openArchive: (path: string) => Promise<ArchiveSink>, onProgress?: ProgressCallback): Promise<DiscardResult> {
  const decision = archiveDecision(options)
  if (decision === 'archive') await checkArchivePath(options.archivePath!)
  const table = await resolveOutbox(sql, options.config)
  const archivePath = decision === 'archive' ? options.archivePath! : null
  const base = {dryRun: options.dryRun === true, cancelled: false, interrupted: false, archive: archivePath, archived: 0, discarded: 0}
  if (options.dryRun) return {...(await planGroup(sql, table, options)), ...base}
  let archive: ArchiveSink | undefined
  let archived = 0
  try {
    const run = await runGroupAction(
      sql, table,
      {group: options.group, since: options.since, until: options.until, eventType: options.eventType, chunkSize: options.batchSize ?? 500, countFirst: options.yes !== true, signal: options.signal},
      async (plan) => {
        if (options.confirm && !(await options.confirm({...plan, archive: archivePath}))) return false
        if (archivePath !== null) archive = await openArchive(archivePath)
        return true
      },
      async (ids) => {
        const done = await discardChunk(sql, table, options.group, ids, archive)
        archived += done.archived
        return done.deleted
      },
      onProgress,
    )
    return {...run.plan, ...base, cancelled: run.cancelled, interrupted: run.interrupted, archived, discarded: run.done}
  } finally {
    await archive?.close()
  }
}
