/** The small interfaces the dead-letter operations run over; src/adapters/dlq.ts implements them with amqplib. */
import type {OutgoingMessage} from '../ports.js'

/** One delivery from a dead-letter queue, still unacked on the broker. */
export interface DeadLetter {
  /** The delivery's handle for ack/hold; meaningless outside its reader. */
  readonly tag: number
  readonly body: Buffer
  /** AMQP basic properties as delivered, headers (with x-death) included. */
  readonly properties: OutgoingMessage['properties'] & {headers?: Record<string, unknown>}
  /** True when the broker delivered it before (e.g. a previous inspect returned it). */
  readonly redelivered: boolean
}

export interface QueueState {
  /** Ready messages (not counting deliveries unacked by other consumers). */
  messages: number
  consumers: number
}

/**
 * Consumes one queue with manual acks. A delivery is either acked (gone) or held: a held delivery stays
 * unacked until close(), which returns every unacked delivery to the queue in its original place.
 */
export interface DeadLetterReader {
  /** The next delivery; null when none arrives within waitMs (0: only what is already buffered). */
  next(waitMs: number): Promise<DeadLetter | null>
  /** Removes it from the queue; false when the channel is gone (the delivery went back to the queue). */
  ack(letter: DeadLetter): boolean
  /** Keeps it unacked until close(), without letting it block further deliveries. */
  hold(letter: DeadLetter): void
  /** Stops consuming and returns every delivery not acked to the queue. */
  close(): Promise<void>
}

export interface DeadLetterQueues {
  /** Depth and consumers of a queue; a UsageError when it does not exist. */
  state(queue: string): Promise<QueueState>
  open(queue: string, options: {prefetch: number}): Promise<DeadLetterReader>
}

/** Where purge --archive keeps what it removes: lines are durable (written and flushed) when append resolves. */
export interface ArchiveSink {
  readonly path: string
  append(lines: string[]): Promise<void>
  close(): Promise<void>
}
