/** The small interfaces the core operations run over; src/adapters implements them with the real drivers. */

export type Row = Record<string, unknown>

export interface SqlExecutor {
  /** Runs one statement with `?` placeholders (arrays expand to lists) and returns its rows. */
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>
  /** Runs one statement that changes rows and returns how many it changed. */
  execute(sql: string, params?: unknown[]): Promise<{affectedRows: number}>
}

export interface SqlPort extends SqlExecutor {
  /** Runs work in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>
  /** The server's version string, e.g. `10.11.6-MariaDB` or `8.0.36`. */
  version(): Promise<string>
}

/** What the Redis lock needs from a key-value store. */
export interface LockStore {
  /** SET key value NX PX ttl: true when the key was free and is now ours. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>
  get(key: string): Promise<string | null>
  /** Extends the key's expiry only while it still holds value. */
  renewIfEquals(key: string, value: string, ttlMs: number): Promise<boolean>
  /** Deletes the key only while it still holds value. */
  deleteIfEquals(key: string, value: string): Promise<boolean>
  /** A set of the lock keys held (SADD / SREM): what reads them (top, metrics) needs no scan of the keyspace. */
  addMember?(set: string, member: string): Promise<void>
  removeMember?(set: string, member: string): Promise<void>
}

/** Reports progress of a long operation; the command decides how to show it. note: a word on the state of the run, shown at the end of the bar's line (prune: the chunk size, or why it is paused). */
export type ProgressCallback = (progress: {done: number; total?: number; label?: string; note?: string}) => void

export interface OutgoingMessage {
  exchange: string
  routingKey: string
  body: Buffer
  /** AMQP basic properties: messageId, headers, contentType, timestamp, … persistent is forced on. */
  properties: {
    messageId?: string
    headers?: Record<string, unknown>
    contentType?: string
    contentEncoding?: string
    correlationId?: string
    type?: string
    appId?: string
    timestamp?: number
    expiration?: string
    priority?: number
    replyTo?: string
    userId?: string
    deliveryMode?: number
  }
}

/**
 * What the broker said about one published message.
 * confirmed: acked and not returned, the only outcome that lets a caller mark it done;
 * returned: unroutable (mandatory), with the broker's reply text; nacked: the broker refused it.
 */
export type PublishOutcome = {status: 'confirmed'} | {status: 'returned'; reason: string} | {status: 'nacked'; reason: string}

export interface PublishOptions {
  timeoutMs?: number
  onOutcome?: (index: number, outcome: PublishOutcome) => void
}

export interface PublisherPort {
  /**
   * Publishes every message (mandatory, persistent) and resolves when the broker has answered for each.
   * onOutcome, when given, is told each message's outcome (by its index in messages) as soon as the broker answered
   * for it, before the batch resolves; an implementation may not call it, so the resolved outcomes stay the reference.
   */
  publishBatch(messages: OutgoingMessage[], options?: PublishOptions): Promise<PublishOutcome[]>
  /**
   * The names among these that are not exchanges on the broker (the default exchange "" always is), known once per
   * publisher: a publish to a missing exchange closes the channel and fails its whole batch, so the caller sets those aside.
   * Without it, the caller cannot tell before publishing.
   */
  missingExchanges?(names: string[]): Promise<Set<string>>
  close(): Promise<void>
}
