import type {ConfirmChannel, Message, Options} from 'amqplib'

import {OperationError, oneLine} from '../core/errors.js'
import type {OutgoingMessage, PublishOptions, PublishOutcome, PublisherPort} from '../core/ports.js'
import type {AmqpAdapter} from './amqp.js'

interface Pending {
  exchange: string
  routingKey: string
  messageId?: string
  size: number
  returned?: string
}

/**
 * Publishes on a confirm channel with mandatory set, and tells per message whether the broker
 * confirmed it, returned it (unroutable) or nacked it. A return always arrives before the ack of the
 * same message, so a message counts as confirmed only when its ack came and no return did.
 * A return is matched to the oldest unanswered publish with the same exchange, routing key, message id
 * and body size, so nothing is added to the message to tell them apart.
 */
export class ConfirmPublisher implements PublisherPort {
  private channel?: ConfirmChannel
  private failure?: Error
  private seq = 0
  private readonly pending = new Map<number, Pending>()
  /** The batch being written to the channel: batches in flight are written one after another, never interleaved. */
  private writing: Promise<void> = Promise.resolve()
  /** The batches waiting for confirms, told when the channel closes (one listener for all of them, however many). */
  private readonly waiting = new Set<() => void>()
  /** What this publisher knows of each exchange it was asked about (or saw refused): exists or not. */
  private readonly exchanges = new Map<string, Promise<boolean>>()

  constructor(private readonly amqp: AmqpAdapter) {}

  /** The channel being opened: batches started before it is open must all wait for it, not open one each. */
  private opening?: Promise<ConfirmChannel>

  private async open(): Promise<ConfirmChannel> {
    if (this.failure) throw this.failure
    if (this.channel) return this.channel
    // Two channels would break the order of the batches: the broker orders publishes per channel only.
    this.opening ??= this.openChannel().finally(() => (this.opening = undefined))
    return this.opening
  }

  private async openChannel(): Promise<ConfirmChannel> {
    const channel = await this.amqp.confirmChannel()
    channel.on('return', (message: Message) => {
      const fields = message.fields as {exchange: string; routingKey: string; replyCode?: number; replyText?: string}
      for (const entry of this.pending.values()) {
        if (entry.returned === undefined && entry.exchange === fields.exchange && entry.routingKey === fields.routingKey
          && entry.messageId === message.properties.messageId && entry.size === message.content.length) {
          entry.returned = `${fields.replyCode ?? 312} ${fields.replyText ?? 'NO_ROUTE'}`
          break
        }
      }
    })
    channel.on('error', (error: Error) => {
      this.failure ??= channelFailure(error)
      // Deleted while we ran: whoever asks next is told, instead of being told it exists from a check made before.
      const missing = missingExchangeOf(error)
      if (missing !== undefined) this.exchanges.set(missing, Promise.resolve(false))
    })
    channel.on('close', () => {
      this.failure ??= channelFailure(this.amqp.closedWith ?? new Error('channel closed'))
      this.channel = undefined
      for (const closed of this.waiting) closed()
    })
    this.channel = channel
    return channel
  }

  /** Checks each name once per publisher (a passive declare each, on its own channel); the default exchange always exists. */
  async missingExchanges(names: string[]): Promise<Set<string>> {
    const unique = [...new Set(names)].filter((name) => name !== '')
    const known = await Promise.all(
      unique.map((name) => {
        let exists = this.exchanges.get(name)
        if (!exists) {
          exists = this.amqp.exchangeExists(name)
          this.exchanges.set(name, exists)
          // A check that failed (not a 404) is asked again next time.
          exists.catch(() => this.exchanges.delete(name))
        }
        return exists
      }),
    )
    return new Set(unique.filter((_name, i) => !known[i]))
  }

  async publishBatch(messages: OutgoingMessage[], options: PublishOptions = {}): Promise<PublishOutcome[]> {
    // Written in call order, each batch whole: a batch that waits for the socket to drain must not let the next one's
    // messages in between, or one aggregate's events would reach the queue out of id order. The turn is taken at the
    // call, before anything is awaited.
    const previous = this.writing
    let written!: () => void
    this.writing = new Promise<void>((resolve) => (written = resolve))
    let channel: ConfirmChannel
    try {
      channel = await this.open()
    } catch (error) {
      written()
      throw error
    }
    const outcomes: (PublishOutcome | undefined)[] = Array.from({length: messages.length})
    const timeoutMs = options.timeoutMs ?? 60_000
    let settled = 0
    let finished = false
    let done!: () => void
    let fail!: (error: Error) => void
    const all = new Promise<void>((resolve, reject) => {
      done = resolve
      fail = (error) => {
        finished = true
        reject(error)
      }
    })
    // Rejections are awaited below; without this, one arriving while we wait for 'drain' would go unhandled.
    all.catch(() => {})
    if (messages.length === 0) done()
    const onClose = () => fail(this.failure ?? channelFailure(new Error('channel closed')))
    this.waiting.add(onClose)
    const timer = setTimeout(() => {
      const blocked = this.amqp.blocked ? ` (the broker is blocking publishers: ${this.amqp.blocked})` : ''
      fail(new OperationError(`RabbitMQ did not confirm ${messages.length - settled} of ${messages.length} messages within ${timeoutMs} ms${blocked}`, 'nothing unconfirmed was marked done; check the broker (memory or disk alarm) and run again'))
    }, timeoutMs)
    const seqs: number[] = []
    try {
      await Promise.race([previous, all])
      for (const [index, message] of messages.entries()) {
        if (this.failure) throw this.failure
        const seq = ++this.seq
        seqs.push(seq)
        this.pending.set(seq, {exchange: message.exchange, routingKey: message.routingKey, messageId: message.properties.messageId, size: message.body.length})
        const ok = channel.publish(
          message.exchange,
          message.routingKey,
          message.body,
          publishOptions(message.properties),
          (error: unknown) => {
            const returned = this.pending.get(seq)?.returned
            this.pending.delete(seq)
            // amqplib answers 'channel closed' to every unconfirmed publish when the channel dies: not a nack.
            if (error && (error as Error).message !== 'message nacked') {
              // The broker's reason ('error' event) may arrive just after: give it a turn before failing.
              setImmediate(() => fail(this.failure ?? channelFailure(this.amqp.closedWith ?? (error as Error))))
              return
            }
            const outcome: PublishOutcome = error
              ? {status: 'nacked', reason: 'the broker nacked the message'}
              : returned
                ? {status: 'returned', reason: returned}
                : {status: 'confirmed'}
            outcomes[index] = outcome
            // Not after the batch failed (a timeout, a closed channel): its caller has given up on every unanswered one.
            if (!finished) options.onOutcome?.(index, outcome)
            if (++settled === messages.length) done()
          },
        )
        // Respect the socket's back-pressure instead of buffering a whole batch in memory.
        if (!ok) await Promise.race([new Promise<void>((resolve) => channel.once('drain', resolve)), all])
      }
      written()
      await all
    } finally {
      finished = true
      written()
      clearTimeout(timer)
      this.waiting.delete(onClose)
      for (const seq of seqs) this.pending.delete(seq)
    }
    return outcomes as PublishOutcome[]
  }

  async close(): Promise<void> {
    const channel = this.channel
    this.channel = undefined
    await channel?.close().catch(() => {})
  }
}

/**
 * amqplib's options for one publish, always of one shape: an object spread of each message's own properties made
 * amqplib's Args.publish megamorphic (twice the client CPU of a raw loop: `npm run bench -- publisher`).
 */
function publishOptions(p: OutgoingMessage['properties']): Options.Publish {
  return {
    mandatory: true, persistent: true, messageId: p.messageId, headers: p.headers, contentType: p.contentType, contentEncoding: p.contentEncoding,
    correlationId: p.correlationId, type: p.type, appId: p.appId, timestamp: p.timestamp, expiration: p.expiration, priority: p.priority,
    replyTo: p.replyTo, userId: p.userId,
  }
}

/** The exchange a broker's 404 NOT_FOUND names, when the channel was closed for publishing to a missing exchange. */
function missingExchangeOf(error: Error): string | undefined {
  return /NOT_FOUND - no exchange '([^']*)'/.exec(oneLine(error.message ?? String(error)))?.[1]
}

function channelFailure(error: Error): OperationError {
  const text = oneLine(error.message ?? String(error))
  const missing = missingExchangeOf(error)
  if (missing !== undefined)
    return new OperationError(
      `RabbitMQ: exchange "${missing}" does not exist`,
      'declare it (msgops topology apply) or fix the exchange of the rows; nothing was marked sent, and the next drain sets the rows to it aside',
      error,
    )
  return new OperationError(`RabbitMQ closed the channel: ${text}`, 'nothing unconfirmed was marked done; check the broker and run again', error)
}
