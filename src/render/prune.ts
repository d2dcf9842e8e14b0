import {formatDuration} from '../core/duration.js'
import type {PartitionDropReport} from '../core/prune/partitions.js'
import type {PrunePlan, PruneResult} from '../core/prune/plan.js'
import type {PruneReport} from '../core/prune/run.js'
import {paint} from './color.js'
import {renderTable} from './table.js'

const n = (value: number) => value.toLocaleString('en-US')

/** The confirmation names the server, the table, what goes and whether an archive keeps it. */
export function pruneQuestion(plan: PrunePlan, archive: string | undefined, target: (service: 'mysql') => string): string {
  const where = `${plan.target.name} on ${target('mysql')}`
  if (plan.scheme) {
    const old = plan.scheme.partitions.filter((p) => p.bound !== null && p.bound <= plan.cut.at).length
    return `Drop up to ${n(old)} partition${old === 1 ? '' : 's'} of ${where} holding rows created before ${plan.cut.at} (each checked first for rows that must stay)?`
  }
  const rows = plan.eligible?.rows ?? 0
  return `Delete about ${n(rows)} ${plan.target.describe} from ${where}${archive ? `, archiving them to ${archive}` : ' WITHOUT an archive'}?`
}

export function renderPrune(result: PruneResult): string {
  return result.mode === 'partitions' ? renderPartitions(result) : renderRows(result)
}

function renderRows(r: PruneReport): string {
  const lines: string[] = []
  if (r.dryRun) {
    lines.push(`${r.table}: would delete ${n(r.eligible.rows)} ${r.what}`)
    if (r.eligible.rows > 0) lines.push(`oldest ${r.basis}: ${r.eligible.oldest} · newest: ${r.eligible.newest}`)
    lines.push(paint('dim', 'dry run: nothing was deleted'))
    return lines.join('\n')
  }
  const rows: (string | number)[][] = [
    ['deleted', n(r.deleted)],
    ['kept (changed meanwhile)', n(r.kept)],
    ...(r.archive ? [['archived', `${n(r.archived)} → ${r.archive}`]] : []),
    ['chunks', r.pace.politeChunks > 0 && r.pace.fullChunks > 0 ? `${n(r.chunks)} (${n(r.pace.politeChunks)} polite, ${n(r.pace.fullChunks)} full speed)` : r.pace.politeChunks > 0 ? `${n(r.chunks)} (polite)` : n(r.chunks)],
    ['chunk size (first → last)', `${n(r.chunkSize.first)} → ${n(r.chunkSize.last)} (${n(r.chunkSize.smallest)}–${n(r.chunkSize.largest)})`],
    ['rate', `${n(r.rowsPerSecond)} rows/s`],
    ['elapsed', formatDuration(r.elapsedMs)],
    ['paused', r.pauses.count === 0 ? 'never' : `${r.pauses.count}× for ${formatDuration(r.pauses.ms)} (${Object.entries(r.pauses.reasons).map(([k, v]) => `${k} ${v}`).join(', ')})`],
  ]
  const width = Math.max(...rows.map(([k]) => String(k).length))
  lines.push(`${r.table}: ${r.what}`, ...rows.map(([k, v]) => `  ${String(k).padEnd(width)}  ${v}`))
  const left = Math.max(0, r.eligible.rows - r.deleted - r.kept)
  if (r.stoppedBy === 'limit') lines.push(paint('yellow', `stopped at --limit: about ${n(left)} more to go`))
  if (r.stoppedBy === 'until') lines.push(paint('yellow', `stopped at the --until time budget: about ${n(left)} more to go; the next run goes on`))
  if (r.interrupted) lines.push(paint('yellow', `interrupted after the chunk in hand: about ${n(left)} more to go`))
  if (!r.stoppedBy) lines.push(paint('green', `done: ${n(r.deleted)} deleted`))
  return lines.join('\n')
}

function renderPartitions(r: PartitionDropReport): string {
  const why = {'catch-all': 'kept: catch-all (MAXVALUE)', 'too young': 'kept: newer than the cut', last: 'kept: a table keeps one partition', 'rows must stay': 'KEPT: holds rows that must stay'} as const
  const table = renderTable(
    ['partition', 'below', 'rows (est.)', r.dryRun ? 'would' : 'done'],
    r.decisions.map((d) => [d.name, d.bound ?? 'MAXVALUE', n(d.rows), d.action === 'drop' ? (r.dryRun ? 'drop' : 'dropped') : `${why[d.why]}${d.mustStay ? ` (${d.mustStay >= 1000 ? '≥1,000' : n(d.mustStay)})` : ''}`]),
  )
  const lines = [`${r.table}: partitions on ${r.column}, cut ${r.cut}`, table]
  lines.push(`${r.dryRun ? 'would drop' : 'dropped'} ${r.dropped.length} partition${r.dropped.length === 1 ? '' : 's'} (~${n(r.droppedRows)} rows) in ${formatDuration(r.elapsedMs)}`)
  if (r.added.length > 0) lines.push(`${r.dryRun ? 'would add' : 'added'}: ${r.added.join(', ')}`)
  if (r.refused > 0) lines.push(paint('yellow', `${r.refused} old partition${r.refused === 1 ? '' : 's'} kept for rows that must stay: requeue or fix them, or prune row by row (without --drop-partitions)`))
  if (r.dryRun) lines.push(paint('dim', 'dry run: nothing was dropped'))
  return lines.join('\n')
}
