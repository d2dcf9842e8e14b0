import {OperationError} from '../errors.js'
import type {ProgressCallback} from '../ports.js'
import {jsonSafe} from './deaths.js'
import {type DeadLetterFilters, matcher} from './decide.js'
import type {ArchiveSink, DeadLetter, DeadLetterQueues} from './ports.js'
import {readDeadLetters} from './read.js'

export interface PurgeOptions {
  queue: string
  filters: DeadLetterFilters
  limit?: number
  dryRun: boolean
  prefetch: number
  errorHeaders: string[]
  idleMs: number
  now?: () => number
}

export interface PurgeReport {
  queue: string
  depth: number
  read: number
  dryRun: boolean
  /** Acked, i.e. removed from the queue (in a dry run: would be). */
  purged: number
  /** Lines written and flushed to the archive before their messages were acked. */
  archived: number
  archive?: string
  /** Did not match the filters; returned to the queue. */
  left: number
  interrupted: boolean
  /** The person declined the confirmation: nothing was read. */
  cancelled?: boolean
}

/** One archive line: everything needed to republish the message later, body as text when it is UTF-8. */
export function archiveLine(queue: string, letter: DeadLetter, archivedAt: Date): string {
  const text = letter.body.toString('utf8')
  const utf8 = Buffer.from(text, 'utf8').equals(letter.body)
  const {headers, ...properties} = letter.properties
  return `${JSON.stringify({
    archivedAt: archivedAt.toISOString(),
    queue,
    messageId: properties.messageId,
    properties: jsonSafe(properties),
    headers: jsonSafe(headers ?? {}),
    bodyEncoding: utf8 ? 'utf8' : 'base64',
    body: utf8 ? text : letter.body.toString('base64'),
  })}\n`
}

/**
 * Removes dead letters: reads at most the depth seen at the start; with an archive, each batch is written and
 * flushed before any message of it is acked, so nothing is removed that was not kept. Messages that do not match
 * the filters are held and returned to the queue, in place, at the end.
 */
export async function purgeDeadLetters(
  ports: {queues: DeadLetterQueues; archive?: ArchiveSink},
  options: PurgeOptions,
  progress: ProgressCallback = () => {},
  signal?: AbortSignal,
): Promise<PurgeReport> {
  const now = options.now ?? Date.now
  const state = await ports.queues.state(options.queue)
  const report: PurgeReport = {
    queue: options.queue, depth: state.messages, read: 0, dryRun: options.dryRun, purged: 0, archived: 0,
    archive: ports.archive?.path, left: 0, interrupted: false,
  }
  if (state.messages === 0) return report
  const matches = matcher(options.filters, now)
  const reader = await ports.queues.open(options.queue, {prefetch: Math.max(1, options.prefetch)})
  const batchSize = Math.max(1, Math.floor(options.prefetch / 2))
  let batch: DeadLetter[] = []
  const flush = async () => {
    const letters = batch
    batch = []
    if (letters.length === 0) return
    if (ports.archive) {
      await ports.archive.append(letters.map((l) => archiveLine(options.queue, l, new Date(now()))))
      report.archived += letters.length
    }
    let acked = 0
    for (const letter of letters) if (reader.ack(letter)) acked++
    report.purged += acked
    // Unacked ones went back to the queue with the channel; the archive may then hold them twice, never zero times.
    if (acked < letters.length) throw new OperationError(`the channel closed before ${letters.length - acked} archived messages were acked`, 'they are still in the queue; run again')
    progress({done: report.read, total: state.messages})
  }
  try {
    await readDeadLetters(reader, report, {depth: state.messages, idleMs: options.idleMs, errorHeaders: options.errorHeaders, signal}, {
      wantsMore: () => options.limit === undefined || report.purged + batch.length < options.limit,
      hasBatch: () => batch.length > 0,
      flush,
      async take(letter, facts) {
        if (!matches(letter, facts) || options.dryRun) {
          reader.hold(letter)
          if (matches(letter, facts)) report.purged++
          else report.left++
          return
        }
        batch.push(letter)
        if (batch.length >= batchSize) await flush()
      },
    })
  } finally {
    await reader.close()
  }
  progress({done: report.read, total: state.messages})
  report.interrupted = signal?.aborted === true
  return report
}
