import type {DeadLetter, DeadLetterQueues} from '../dlq/ports.js'
import {OperationError} from '../errors.js'

/** Every row, cache key and message id the demo writes starts with this. */
export const DEMO_PREFIX = 'demo-'

/** A message the demo published (relay, duplicates; poison ones keep their id when dead-lettered). */
export function isDemoMessage(letter: Pick<DeadLetter, 'properties'>): boolean {
  const id = letter.properties.messageId
  return typeof id === 'string' && id.startsWith(DEMO_PREFIX)
}

export interface QueueReset {
  queue: string
  removed: number
  /** Messages that are not the demo's: left in the queue, in their order. */
  kept: number
}

/**
 * Takes the demo's messages out of a queue and leaves every other message where it was: each delivery is read
 * once (at most the depth seen at the start), a demo message is acked, any other is held, and closing the reader
 * returns the held ones to the queue in their original order.
 */
export async function removeDemoMessages(queues: DeadLetterQueues, queue: string, options: {idleMs?: number; signal?: AbortSignal} = {}): Promise<QueueReset> {
  const result: QueueReset = {queue, removed: 0, kept: 0}
  const depth = (await queues.state(queue)).messages
  if (depth === 0) return result
  const reader = await queues.open(queue, {prefetch: Math.min(depth, 500)})
  try {
    while (result.removed + result.kept < depth && !options.signal?.aborted) {
      const letter = await reader.next(options.idleMs ?? 1000)
      if (!letter) break
      if (!isDemoMessage(letter)) {
        reader.hold(letter)
        result.kept++
      } else if (reader.ack(letter)) result.removed++
      else throw new OperationError(`RabbitMQ closed the channel while the demo's messages were taken out of "${queue}"`, 'messages not acked are back in the queue; run the demo with --reset again')
    }
  } finally {
    await reader.close()
  }
  return result
}
