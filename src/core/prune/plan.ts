import type {Config} from '../../config/schema.js'
import {formatDuration, parseDuration} from '../duration.js'
import {UsageError} from '../errors.js'
import {resolveMappings} from '../mapping.js'
import type {ProgressCallback, SqlPort} from '../ports.js'
import {dedupeWindowDecision} from './decide.js'
import {checkPartitionColumn, dropPartitions, type PartitionDropReport, type PartitionScheme, readPartitions} from './partitions.js'
import {countEligible, emptyReport, type PruneCount, type PruneOptions, type PrunePorts, type PruneReport, pruneRows} from './run.js'
import {type Cut, inboxTarget, outboxTarget, type PruneTarget, serverCut} from './target.js'

export interface PruneRequest {
  kind: 'outbox' | 'inbox'
  config: Config
  olderThanMs: number
  /** Outbox: --include-dead-letters with its own age. */
  deadOlderThanMs?: number
  /** Inbox: failed and unprocessed records, only when asked. */
  includeFailed?: boolean
  includeUnprocessed?: boolean
  /** Inbox: --force-below-dedupe-window. */
  forceBelowDedupeWindow?: boolean
  dropPartitions?: boolean
  addAheadDays?: number
  rows: PruneOptions
}

/** What a prune will do, known before the question: the target, the cut, and the count or the partitions. */
export interface PrunePlan {
  request: PruneRequest
  target: PruneTarget
  cut: Cut
  /** Rows mode: what meets the condition now (also the dry run's answer). */
  eligible?: PruneCount
  /** Partitions mode. */
  scheme?: PartitionScheme
  /** Said before anything happens: the dedupe window forced, a basis without a sent-at column. */
  warnings: string[]
}

/** warnings: what was said before the run (also in --json, where notes are not printed). */
export type PruneResult = (({mode: 'rows'} & PruneReport) | ({mode: 'partitions'} & PartitionDropReport)) & {warnings: string[]}

/** Refuses bad combinations, resolves the table, fixes the cut on the server's clock and counts (or reads the partitions). */
export async function planPrune(sql: SqlPort, request: PruneRequest): Promise<PrunePlan> {
  const warnings: string[] = []
  if (!(request.olderThanMs > 0)) throw new UsageError('--older-than must be more than zero', 'give an age such as 7d')
  if (request.kind === 'inbox') {
    const windowMs = parseDuration(request.config.inbox.dedupeWindow, 'inbox.dedupeWindow')
    const decision = dedupeWindowDecision(request.olderThanMs, windowMs, request.forceBelowDedupeWindow === true)
    if (decision === 'refused')
      throw new UsageError(`--older-than ${formatDuration(request.olderThanMs)} is below inbox.dedupeWindow (${request.config.inbox.dedupeWindow}): a redelivered message whose record is gone would be processed twice`, `use --older-than ${request.config.inbox.dedupeWindow} or more (or --force-below-dedupe-window if no message can be redelivered that late)`)
    if (decision === 'forced')
      warnings.push(`--force-below-dedupe-window: records younger than inbox.dedupeWindow (${request.config.inbox.dedupeWindow}) go; a copy of one of these messages delivered again (a broker redelivery, a dlq replay or restore, a publisher retry) will no longer be recognised and will be processed a second time`)
  }
  const cut = await serverCut(sql, request.olderThanMs)
  let target: PruneTarget
  /** The table's mapped time columns (raw names): a partition column must be one of them. */
  let times: (string | null)[]
  if (request.kind === 'outbox') {
    const {outbox} = await resolveMappings(sql, request.config, ['outbox'])
    const dead = request.deadOlderThanMs === undefined ? undefined : await serverCut(sql, request.deadOlderThanMs)
    target = await outboxTarget(sql, outbox, {sent: cut, dead})
    times = [outbox.names.createdAt, outbox.names.sentAt]
    if (outbox.c.sentAt === null) warnings.push(`the outbox has no sent-at column mapped: sent rows are told old by ${target.basis} (their creation time)`)
  } else {
    const {inbox} = await resolveMappings(sql, request.config, ['inbox'])
    target = await inboxTarget(sql, inbox, {cut, includeFailed: request.includeFailed === true, includeUnprocessed: request.includeUnprocessed === true})
    times = [inbox.names.receivedAt, inbox.names.processedAt]
  }
  if (!request.dropPartitions) return {request, target, cut, eligible: await countEligible(sql, target), warnings}
  const scheme = await readPartitions(sql, target.name)
  if (!scheme) throw new UsageError(`the ${request.kind} table "${target.name}" is not partitioned`, 'leave out --drop-partitions to prune row by row (or create it with `msgops schema init --partitioned`)')
  checkPartitionColumn(scheme, target.name, times)
  return {request, target, cut, scheme, warnings}
}

/** Runs the plan: row by row in chunks, or whole partitions. */
export async function runPrune(plan: PrunePlan, ports: PrunePorts, progress?: ProgressCallback): Promise<PruneResult> {
  const {request} = plan
  const warnings = plan.warnings
  if (plan.scheme) return {mode: 'partitions', ...(await dropPartitions(ports.sql, plan.target, plan.scheme, plan.cut, {dryRun: request.rows.dryRun, addAheadDays: request.addAheadDays, clock: ports.clock})), warnings}
  return {mode: 'rows', ...(await pruneRows(ports, plan.target, request.rows, plan.eligible!, progress)), warnings}
}

/** The result of a declined question: nothing was done. */
export function cancelledResult(plan: PrunePlan): PruneResult {
  return {mode: 'rows', ...emptyReport(plan.target, false, plan.eligible ?? {rows: 0, oldest: null, newest: null}, plan.request.rows.chunkSize), cancelled: true, warnings: plan.warnings}
}
