import type {Config} from '../../config/schema.js'
import {UsageError} from '../errors.js'
import type {ProgressCallback, SqlPort} from '../ports.js'
import type {TimeSpec} from '../reconcile/window.js'
import {type GroupPlan, planGroup, runGroupAction} from './failures.js'
import {OutboxRepository, type RowFilter} from './repository.js'
import {resolveOutbox} from './table.js'

export interface RequeueOptions {
  config: Config
  ids?: string[]
  eventType?: string
  olderThanMs?: number
  errorContains?: string
  /** Required when no other filter is given, so that an empty filter never means "everything" by accident. */
  all?: boolean
  dryRun?: boolean
  /** Rows per UPDATE (default 1000). */
  batchSize?: number
  sampleSize?: number
  /** Asked once the matching rows are counted; false cancels. */
  confirm?: (plan: {matching: number}) => Promise<boolean>
  signal?: AbortSignal
  /** The ids of each batch once it is requeued (for the audit). */
  onRequeued?: (ids: string[]) => void
}

export interface RequeueResult {
  dryRun: boolean
  cancelled: boolean
  interrupted: boolean
  matching: number
  requeued: number
  sample: {id: string; eventType: string | null; attempts: number | null; ageMs: number | null; lastError: string | null}[]
}

/** Dead-letter rows back to pending with attempts reset, in keyset batches; last_error is kept as history. */
export async function requeueOutbox(sql: SqlPort, options: RequeueOptions, onProgress?: ProgressCallback): Promise<RequeueResult> {
  const hasFilter = (options.ids?.length ?? 0) > 0 || options.eventType !== undefined || options.olderThanMs !== undefined || options.errorContains !== undefined
  if (!hasFilter && !options.all) throw new UsageError('requeue needs a filter', 'pass --id, --event-type, --older-than or --error-contains, or --all for every dead letter')
  if (hasFilter && options.all) throw new UsageError('--all cannot be combined with a filter', 'pass either --all or the filters')
  const table = await resolveOutbox(sql, options.config)
  if (options.eventType !== undefined && !table.c.eventType)
    throw new UsageError(`the outbox table "${table.name}" has no event type column`, 'map outbox.columns.eventType, or leave out --event-type')
  if (options.errorContains !== undefined && !table.c.lastError)
    throw new UsageError(`the outbox table "${table.name}" has no last error column`, 'map outbox.columns.lastError, or leave out --error-contains')
  const repo = new OutboxRepository(table)
  const filter: RowFilter = {
    status: table.statuses.deadLetter,
    ids: options.ids && options.ids.length > 0 ? options.ids : undefined,
    eventType: options.eventType,
    olderThanMs: options.olderThanMs,
    errorContains: options.errorContains,
  }
  const result: RequeueResult = {dryRun: options.dryRun === true, cancelled: false, interrupted: false, matching: await repo.count(sql, filter), requeued: 0, sample: []}
  if (options.dryRun) {
    const rows = await repo.rows(sql, filter, options.sampleSize ?? 10)
    result.sample = rows.map((r) => ({id: r.id, eventType: r.eventType, attempts: r.attempts, ageMs: r.ageMs, lastError: r.lastError}))
    return result
  }
  if (result.matching === 0) return result
  if (options.confirm && !(await options.confirm({matching: result.matching}))) {
    result.cancelled = true
    return result
  }
  const batchSize = options.batchSize ?? 1000
  let afterId: string | undefined
  for (;;) {
    if (options.signal?.aborted) {
      result.interrupted = true
      break
    }
    const rows = await repo.rows(sql, {...filter, afterId}, batchSize)
    if (rows.length === 0) break
    result.requeued += await repo.requeue(sql, rows.map((r) => r.id))
    options.onRequeued?.(rows.map((r) => r.id))
    afterId = rows.at(-1)!.id
    onProgress?.({done: result.requeued, total: result.matching, label: 'requeue'})
  }
  return result
}

export interface GroupRequeueOptions {
  config: Config
  /** A fingerprint printed by outbox failures. */
  group: string
  since?: TimeSpec
  until?: TimeSpec
  eventType?: string
  dryRun?: boolean
  /** Rows per UPDATE (default 1000). */
  batchSize?: number
  /** Asked once the group's rows are counted; false cancels. */
  confirm?: (plan: GroupPlan) => Promise<boolean>
  /** Nobody is asked (--yes): no counting pass, the rows are counted as they are requeued. */
  yes?: boolean
  signal?: AbortSignal
}

export interface GroupRequeueResult extends GroupPlan {
  dryRun: boolean
  cancelled: boolean
  interrupted: boolean
  requeued: number
}

/** UPDATEs in flight while the scan reads the next batch: the database works while the client fingerprints. */
export const GROUP_REQUEUE_IN_FLIGHT = 2

/**
 * The dead-letter rows of one failure group back to pending, attempts reset: a counting pass for the question (none
 * under --yes: counted as it goes), then the group's rows in keyset batches, each chunk one UPDATE by primary key
 * guarded by the dead-letter status (a row another run moved meanwhile is left alone), two chunks in flight.
 * Interrupted or killed, running it again does the rest.
 */
export async function requeueGroup(sql: SqlPort, options: GroupRequeueOptions, onProgress?: ProgressCallback): Promise<GroupRequeueResult> {
  const table = await resolveOutbox(sql, options.config)
  const base = {dryRun: options.dryRun === true, cancelled: false, interrupted: false, requeued: 0}
  if (options.dryRun) return {...(await planGroup(sql, table, options)), ...base}
  const repo = new OutboxRepository(table)
  const run = await runGroupAction(
    sql, table,
    {group: options.group, since: options.since, until: options.until, eventType: options.eventType, chunkSize: options.batchSize ?? 1000, inFlight: GROUP_REQUEUE_IN_FLIGHT, countFirst: options.yes !== true, signal: options.signal},
    (plan) => (options.confirm ? options.confirm(plan) : Promise.resolve(true)),
    (ids) => repo.requeue(sql, ids),
    onProgress,
  )
  return {...run.plan, ...base, cancelled: run.cancelled, interrupted: run.interrupted, requeued: run.done}
}
