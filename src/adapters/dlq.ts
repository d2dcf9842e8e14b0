import {open as openFile, type FileHandle} from 'node:fs/promises'

import type {Channel, ConsumeMessage, Message} from 'amqplib'

import {OperationError, oneLine, UsageError} from '../core/errors.js'
import type {ArchiveSink, DeadLetter, DeadLetterQueues, DeadLetterReader, QueueState} from '../core/dlq/ports.js'
import type {AmqpAdapter} from './amqp.js'

/** Dead-letter queues over amqplib: queue depth by a passive declare, reading by a manual-ack consumer. */
export class AmqpDeadLetterQueues implements DeadLetterQueues {
  constructor(private readonly amqp: AmqpAdapter) {}

  async state(queue: string): Promise<QueueState> {
    const channel = await this.amqp.channel()
    try {
      const ok = await channel.checkQueue(queue)
      return {messages: ok.messageCount, consumers: ok.consumerCount}
    } catch (error) {
      if (/NOT_FOUND/.test((error as Error).message))
        throw new UsageError(`queue "${queue}" does not exist in this virtual host`, 'check the queue name and the vhost of --amqp-url')
      throw new OperationError(`RabbitMQ: cannot read queue "${queue}": ${oneLine((error as Error).message)}`, 'check the broker and run again', error)
    } finally {
      await channel.close().catch(() => {})
    }
  }

  async open(queue: string, options: {prefetch: number}): Promise<DeadLetterReader> {
    const channel = await this.amqp.channel()
    const reader = new AmqpDeadLetterReader(channel, queue, Math.min(65_535, Math.max(1, options.prefetch)), this.amqp)
    await reader.start()
    return reader
  }
}

interface Waiter {
  resolve(letter: DeadLetter | null): void
  reject(error: Error): void
  timer?: NodeJS.Timeout
}

/**
 * One channel, one consumer at a time, manual acks, a per-consumer prefetch. Acks are batched: delivery tags count up
 * by one per delivery on a channel, so once every delivery up to a tag is to be acked, one ack with `multiple` acks
 * them all; above a held delivery each is acked alone (planAcks). The acks noted in one event-loop turn are sent at
 * its end, so the confirms of one burst end in one frame. Held deliveries stay unacked until
 * close() (closing the channel returns every unacked delivery to its queue, in its original place for a classic
 * queue). Held deliveries would fill the prefetch window and stop the flow, so once half the window of the
 * current consumer is held, it is cancelled and a fresh consumer (with a fresh window) is started; the held
 * deliveries stay unacked on the channel. Only delivery tags are kept, never bodies.
 */
class AmqpDeadLetterReader implements DeadLetterReader {
  private buffer: DeadLetter[] = []
  private head = 0
  private waiter?: Waiter
  private failure?: Error
  private consumerTag?: string
  private consumerOf = new Map<number, string>()
  private heldOnCurrent = 0
  private rolling = false
  private closed = false
  private readonly acks = new AckWindow()
  private flushing?: NodeJS.Immediate

  constructor(
    private readonly channel: Channel,
    private readonly queue: string,
    private readonly prefetch: number,
    private readonly amqp: AmqpAdapter,
  ) {
    channel.on('close', () => {
      if (!this.closed) this.fail(new OperationError(`RabbitMQ closed the channel reading "${queue}"${amqp.closedWith ? `: ${oneLine(amqp.closedWith.message)}` : ''}`, 'nothing unconfirmed was acked; its messages went back to the queue; run again'))
    })
    channel.on('error', (error: Error) => this.fail(new OperationError(`RabbitMQ: ${oneLine(error.message)}`, 'nothing unconfirmed was acked; run again', error)))
  }

  async start(): Promise<void> {
    await this.channel.prefetch(this.prefetch, false)
    await this.consume()
  }

  private async consume(): Promise<void> {
    const ok = await this.channel.consume(this.queue, (msg) => this.onMessage(msg), {noAck: false})
    this.consumerTag = ok.consumerTag
    this.heldOnCurrent = 0
  }

  private onMessage(msg: ConsumeMessage | null): void {
    if (msg === null) {
      if (!this.closed) this.fail(new OperationError(`RabbitMQ cancelled the consumer of "${this.queue}" (was the queue deleted?)`, 'messages not acked went back to the queue; check it and run again'))
      return
    }
    this.consumerOf.set(msg.fields.deliveryTag, msg.fields.consumerTag)
    const letter: DeadLetter = {tag: msg.fields.deliveryTag, body: msg.content, properties: msg.properties as DeadLetter['properties'], redelivered: msg.fields.redelivered}
    const waiter = this.waiter
    if (waiter) {
      this.waiter = undefined
      clearTimeout(waiter.timer)
      waiter.resolve(letter)
    } else this.buffer.push(letter)
  }

  private fail(error: Error): void {
    this.failure ??= error
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter) {
      clearTimeout(waiter.timer)
      waiter.reject(this.failure)
    }
  }

  next(waitMs: number): Promise<DeadLetter | null> {
    if (this.head < this.buffer.length) {
      const letter = this.buffer[this.head++]
      if (this.head > 1024 && this.head * 2 > this.buffer.length) {
        this.buffer = this.buffer.slice(this.head)
        this.head = 0
      }
      return Promise.resolve(letter)
    }
    if (this.failure) return Promise.reject(this.failure)
    if (waitMs <= 0) return Promise.resolve(null)
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {resolve, reject}
      waiter.timer = setTimeout(() => {
        if (this.waiter === waiter) this.waiter = undefined
        resolve(null)
      }, waitMs)
      this.waiter = waiter
    })
  }

  ack(letter: DeadLetter): boolean {
    this.consumerOf.delete(letter.tag)
    if (this.failure || this.closed) return false
    this.acks.ack(letter.tag)
    this.schedule()
    return true
  }

  /** The acks noted in this event-loop turn go out together at its end: a burst of confirms becomes one `multiple`. */
  private schedule(): void {
    if (this.flushing) return
    this.flushing = setImmediate(() => {
      this.flushing = undefined
      if (!this.failure && !this.closed) this.send(this.acks.take())
    })
  }

  private send(acks: Ack[]): boolean {
    try {
      for (const {tag, multiple} of acks) this.channel.ack({fields: {deliveryTag: tag}} as Message, multiple)
      return true
    } catch {
      return false
    }
  }

  hold(letter: DeadLetter): void {
    // Acks waiting above it can no longer be covered by one `multiple`: sent at the end of the turn, one by one.
    this.acks.hold(letter.tag)
    if (this.acks.pending && !this.failure && !this.closed) this.schedule()
    const tag = this.consumerOf.get(letter.tag)
    this.consumerOf.delete(letter.tag)
    if (tag !== this.consumerTag) return
    if (++this.heldOnCurrent >= Math.max(1, Math.floor(this.prefetch / 2)) && !this.rolling) void this.roll()
  }

  /** A fresh consumer: the old one's held deliveries stay unacked on the channel but no longer use its window. */
  private async roll(): Promise<void> {
    this.rolling = true
    try {
      const old = this.consumerTag
      this.consumerTag = undefined
      if (old) await this.channel.cancel(old)
      if (!this.closed) await this.consume()
    } catch (error) {
      this.fail(error instanceof OperationError ? error : new OperationError(`RabbitMQ: cannot restart the consumer of "${this.queue}": ${oneLine((error as Error).message)}`, 'run again', error))
    } finally {
      this.rolling = false
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter) {
      clearTimeout(waiter.timer)
      waiter.resolve(null)
    }
    // The acks of this turn, and those still waiting for an earlier delivery that was neither acked nor held (read,
    // then the run stopped): each of those alone.
    clearImmediate(this.flushing)
    this.flushing = undefined
    if (!this.failure) this.send(this.acks.take(true))
    this.buffer = []
    this.head = 0
    this.consumerOf.clear()
    // Closing the channel returns every unacked delivery; acks sent before it are processed first (same channel).
    if (this.consumerTag) await this.channel.cancel(this.consumerTag).catch(() => {})
    await this.channel.close().catch(() => {})
  }
}

export interface Ack {
  tag: number
  multiple: boolean
}

/** Where a channel's acks stand: every delivery up to `through` is acked; `lowestHeld` is the lowest held tag (Infinity: none). */
export interface AckState {
  through: number
  lowestHeld: number
}

/**
 * Which acks to send now for a channel's deliveries (tags 1, 2, 3… in delivery order), as few as possible. `waiting`
 * are the tags to be acked (confirmed and not returned, or otherwise settled for removal) and not sent yet, ascending;
 * `closing` is true when the reader closes. Per waiting tag:
 *
 * | the waiting tag            | every delivery from through + 1 up to it is waiting | closing | sent                                          |
 * | -------------------------- | --------------------------------------------------- | ------- | --------------------------------------------- |
 * | above the lowest held one  | -                                                   | -       | its own ack (multiple: false)                 |
 * | below every held one       | yes                                                 | -       | one ack, multiple, up to the last of that run |
 * | below every held one       | no (an earlier delivery is still out)               | no      | nothing yet: it waits                         |
 * | below every held one       | no                                                  | yes     | its own ack                                   |
 *
 * A `multiple` acks every unacked delivery up to its tag, held ones included; the run it covers stops at the first
 * delivery that is not waiting, so it never covers a held one. A held delivery is never acked, so nothing above the
 * lowest held one can ever be covered by a `multiple`: those go alone (a `multiple` over a run above it would ack the
 * held one as well), at once rather than at close, so that the broker frees their place in the prefetch window.
 * A delivery still out (read but undecided, or its publish unanswered) is acked or held soon; at close it is neither,
 * and is returned to the queue.
 */
export function planAcks(state: AckState, waiting: readonly number[], closing: boolean): {send: Ack[]; state: AckState; waiting: number[]} {
  const send: Ack[] = []
  const left: number[] = []
  const first = state.through + 1
  let through = state.through
  for (const tag of waiting) {
    if (tag > state.lowestHeld) send.push({tag, multiple: false})
    else if (tag === through + 1) through = tag
    else left.push(tag)
  }
  if (through > state.through) send.push({tag: through, multiple: through > first})
  if (closing) send.push(...left.splice(0).map((tag) => ({tag, multiple: false})))
  send.sort((a, b) => a.tag - b.tag)
  return {send, state: {through, lowestHeld: state.lowestHeld}, waiting: left}
}

/**
 * The acks of one channel, sent in as few frames as planAcks allows: ack() and hold() only note the tag; take() says
 * what to send. The reader calls take() once per event-loop turn, so that the confirms of one burst (the broker
 * confirms once per fsync, many messages in one frame) end in one ack.
 */
export class AckWindow {
  private state: AckState = {through: 0, lowestHeld: Number.POSITIVE_INFINITY}
  private waiting: number[] = []
  private sorted = true

  ack(tag: number): void {
    if (this.waiting.length > 0 && tag < this.waiting[this.waiting.length - 1]) this.sorted = false
    this.waiting.push(tag)
  }

  hold(tag: number): void {
    if (tag < this.state.lowestHeld) this.state = {...this.state, lowestHeld: tag}
  }

  /** True when take() has something to decide. */
  get pending(): boolean {
    return this.waiting.length > 0
  }

  take(closing = false): Ack[] {
    if (this.waiting.length === 0) return []
    if (!this.sorted) this.waiting.sort((a, b) => a - b)
    const plan = planAcks(this.state, this.waiting, closing)
    this.state = plan.state
    this.waiting = plan.waiting
    this.sorted = true
    return plan.send
  }
}

/** An append-only JSON-lines file; append() resolves only after the lines were written and fsync'ed. */
export class JsonlArchive implements ArchiveSink {
  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
  ) {}

  static async open(path: string): Promise<JsonlArchive> {
    try {
      return new JsonlArchive(path, await openFile(path, 'a'))
    } catch (error) {
      throw new UsageError(`cannot open archive file ${path}: ${oneLine((error as Error).message)}`, 'check the path and its directory permissions')
    }
  }

  async append(lines: string[]): Promise<void> {
    try {
      await this.file.write(lines.join(''))
      await this.file.sync()
    } catch (error) {
      throw new OperationError(`cannot write archive ${this.path}: ${oneLine((error as Error).message)}`, 'messages not written were not removed; free space and run again', error)
    }
  }

  async close(): Promise<void> {
    await this.file.close().catch(() => {})
  }
}
