import {type DeadLetterFacts, describeLetter} from './deaths.js'
import type {DeadLetter, DeadLetterReader} from './ports.js'

/** What an operation that takes dead letters out in batches (purge, replay) does with each one the loop reads. */
export interface LetterBatches {
  /** Checked before each read: false stops reading (a limit reached, the run stopped). */
  wantsMore(): boolean
  /** True while letters taken wait in a batch that was not flushed yet. */
  hasBatch(): boolean
  take(letter: DeadLetter, facts: DeadLetterFacts): Promise<void>
  flush(): Promise<void>
  /** When given, a failed read ends the loop after this is called, instead of throwing. */
  readFailed?(error: Error): void
}

export interface ReadLoopOptions {
  /** Read at most this many: the depth seen at the start, so a run never reads a letter twice. */
  depth: number
  idleMs: number
  errorHeaders: string[]
  signal?: AbortSignal
}

/**
 * The read loop purge and replay share: hands each letter with its facts to take(), counts it in counts.read,
 * flushes a waiting batch as soon as nothing more is buffered, stops after idleMs without a delivery, and flushes
 * the last batch at the end.
 */
export async function readDeadLetters(reader: DeadLetterReader, counts: {read: number}, options: ReadLoopOptions, batches: LetterBatches): Promise<void> {
  while (counts.read < options.depth && !options.signal?.aborted && batches.wantsMore()) {
    let letter: DeadLetter | null
    try {
      letter = await reader.next(batches.hasBatch() ? 0 : options.idleMs)
    } catch (error) {
      if (!batches.readFailed) throw error
      batches.readFailed(error as Error)
      break
    }
    if (!letter) {
      // Nothing buffered: flush what is waiting rather than sit on it; nothing at all for idleMs: done.
      if (batches.hasBatch()) {
        await batches.flush()
        continue
      }
      break
    }
    counts.read++
    await batches.take(letter, describeLetter(letter, options.errorHeaders))
  }
  await batches.flush()
}
