import type {OutgoingMessage, PublisherPort, PublishOutcome, Row, SqlExecutor, SqlPort} from '../../src/core/ports.js'

/**
 * An in-memory outbox table behind the SqlPort, answering the statements the real repository (core/outbox/
 * repository.ts) sends for the reference mapping: the information_schema read, counts, the two-step lockBatch
 * (candidates, then FOR UPDATE SKIP LOCKED by id) and the UPDATEs. Every statement is parsed, its WHERE evaluated
 * condition by condition with its own parameters; one it does not know fails the test. Transactions hold row locks
 * and their own writes until commit; a rollback drops them.
 */

export interface FakeRow {
  id: string
  status: string
  payload: string
  exchange: string | null
  routing_key: string | null
  attempts: number
  last_error: string | null
  sent_at: string | null
  available_at: string | null
  /** How long ago the row was created. */
  age_ms: number
}

const COLUMNS = ['id', 'aggregate_type', 'aggregate_id', 'event_type', 'exchange', 'routing_key', 'payload', 'headers', 'status', 'attempts', 'last_error', 'created_at', 'available_at', 'sent_at']

/** Splits at `separator` outside parentheses. */
function splitTop(text: string, separator: string): string[] {
  const out: string[] = []
  let depth = 0
  let from = 0
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++
    else if (text[i] === ')') depth--
    else if (depth === 0 && text.startsWith(separator, i)) {
      out.push(text.slice(from, i))
      from = i + separator.length
      i += separator.length - 1
    }
  }
  out.push(text.slice(from))
  return out
}

type Predicate = (row: FakeRow) => boolean

/** The WHERE text as a predicate, taking each condition's parameters from `params` in order. */
function predicate(where: string, params: unknown[]): Predicate {
  const tests: Predicate[] = []
  for (const condition of splitTop(where, ' AND ')) {
    let m: RegExpExecArray | null
    if ((m = /^`(\w+)` = \?$/.exec(condition))) {
      const [column, value] = [m[1], params.shift()]
      tests.push((row) => String(row[column as keyof FakeRow]) === String(value))
    } else if ((m = /^`(\w+)` IN \(\?\)$/.exec(condition))) {
      const [column, values] = [m[1], (params.shift() as unknown[]).map(String)]
      tests.push((row) => values.includes(String(row[column as keyof FakeRow])))
    } else if ((m = /^`(\w+)` > \?$/.exec(condition))) {
      const [column, value] = [m[1], String(params.shift())]
      tests.push((row) => String(row[column as keyof FakeRow]) > value)
    } else if (condition === '`created_at` <= NOW(3) - INTERVAL ? MICROSECOND') {
      const ms = Number(params.shift()) / 1000
      tests.push((row) => row.age_ms >= ms)
    } else if (condition === '(`available_at` IS NULL OR `available_at` <= NOW(3))') tests.push((row) => row.available_at === null)
    else if (condition === 'FALSE') tests.push(() => false)
    else throw new Error(`fake outbox: unknown condition ${condition}`)
  }
  return (row) => tests.every((t) => t(row))
}

/** A row as the repository's select list names it. */
function selected(row: FakeRow): Row {
  return {
    id: row.id, status: row.status, payload: row.payload, createdAt: null, aggregateType: null, aggregateId: null, eventType: null, exchange: row.exchange,
    routingKey: row.routing_key, headers: null, attempts: row.attempts, lastError: row.last_error, availableAt: row.available_at, sentAt: row.sent_at, ageMs: row.age_ms,
  }
}

class FakeTransaction implements SqlExecutor {
  readonly writes = new Map<string, FakeRow>()
  constructor(private readonly db: FakeOutboxSql) {}

  query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.db.run(sql, params, this) as Promise<T[]>
  }

  async execute(sql: string, params: unknown[] = []): Promise<{affectedRows: number}> {
    return this.db.update(sql, params, this)
  }
}

export class FakeOutboxSql implements SqlPort {
  readonly rows = new Map<string, FakeRow>()
  /** Row id → the transaction holding its lock. */
  readonly locks = new Map<string, FakeTransaction>()
  /** Every statement, in the order it came. */
  readonly statements: string[] = []
  commits = 0
  rollbacks = 0

  constructor(rows: Partial<FakeRow>[]) {
    for (const r of rows) {
      const row: FakeRow = {id: '', status: 'pending', payload: '{}', exchange: 'orders.x', routing_key: 'k', attempts: 0, last_error: null, sent_at: null, available_at: null, age_ms: 600_000, ...r}
      this.rows.set(row.id, row)
    }
  }

  query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.run(sql, params, null) as Promise<T[]>
  }

  async execute(sql: string, params: unknown[] = []): Promise<{affectedRows: number}> {
    return this.update(sql, params, null)
  }

  async version(): Promise<string> {
    return '10.11.6-MariaDB'
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const tx = new FakeTransaction(this)
    try {
      const result = await work(tx)
      for (const [id, row] of tx.writes) this.rows.set(id, row)
      this.commits++
      return result
    } catch (error) {
      this.rollbacks++
      throw error
    } finally {
      for (const [id, holder] of this.locks) if (holder === tx) this.locks.delete(id)
    }
  }

  /** The rows as a transaction sees them: committed, with its own writes. */
  private view(tx: FakeTransaction | null): FakeRow[] {
    return [...this.rows.values()].map((row) => tx?.writes.get(row.id) ?? row).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  async run(sql: string, input: unknown[], tx: FakeTransaction | null): Promise<Row[]> {
    this.statements.push(sql)
    const params = [...input]
    await Promise.resolve()
    if (sql.includes('information_schema.COLUMNS')) return (params[0] as string[]).includes('outbox') ? COLUMNS.map((c) => ({t: 'outbox', c, dt: 'varchar', coll: null})) : []
    let m: RegExpExecArray | null
    if ((m = /^SELECT COUNT\(\*\) AS n FROM `outbox` (?:WHERE (.*))?$/.exec(sql))) {
      const where = m[1] ? predicate(m[1], params) : () => true
      return [{n: this.view(tx).filter(where).length}]
    }
    if ((m = /^SELECT `id` AS `id` FROM `outbox` WHERE (.*) ORDER BY `id` LIMIT \?$/.exec(sql))) {
      const where = predicate(m[1], params)
      return this.view(tx).filter(where).slice(0, Number(params.shift())).map((row) => ({id: row.id}))
    }
    if ((m = /^SELECT .* FROM `outbox` FORCE INDEX \(PRIMARY\) WHERE (.*) ORDER BY `id` LIMIT \? FOR UPDATE SKIP LOCKED$/.exec(sql))) {
      if (!tx) throw new Error('fake outbox: a locking read outside a transaction')
      const where = predicate(m[1], params)
      const free = this.view(tx).filter((row) => where(row) && (this.locks.get(row.id) ?? tx) === tx)
      const taken = free.slice(0, Number(params.shift()))
      for (const row of taken) this.locks.set(row.id, tx)
      return taken.map(selected)
    }
    throw new Error(`fake outbox: unknown statement ${sql}`)
  }

  async update(sql: string, input: unknown[], tx: FakeTransaction | null): Promise<{affectedRows: number}> {
    this.statements.push(sql)
    const params = [...input]
    await Promise.resolve()
    const m = /^UPDATE `outbox` FORCE INDEX \(PRIMARY\) SET (.*) WHERE (.*)$/.exec(sql)
    if (!m) throw new Error(`fake outbox: unknown statement ${sql}`)
    const sets: ((row: FakeRow) => void)[] = []
    for (const part of splitTop(m[1], ', ')) {
      let s: RegExpExecArray | null
      if ((s = /^`(\w+)` = \?$/.exec(part))) {
        const [column, value] = [s[1], params.shift()]
        sets.push((row) => Object.assign(row, {[column]: value}))
      } else if ((s = /^`(\w+)` = NOW\(3\)$/.exec(part))) {
        const column = s[1]
        sets.push((row) => Object.assign(row, {[column]: 'now'}))
      } else if (part === '`attempts` = `attempts` + 1') sets.push((row) => (row.attempts += 1))
      else throw new Error(`fake outbox: unknown assignment ${part}`)
    }
    const where = predicate(m[2], params)
    let affectedRows = 0
    for (const row of this.view(tx).filter(where)) {
      const holder = this.locks.get(row.id)
      if (holder && holder !== tx) throw new Error(`fake outbox: row ${row.id} is locked by another transaction`)
      const changed = {...row}
      for (const set of sets) set(changed)
      if (tx) tx.writes.set(row.id, changed)
      else this.rows.set(row.id, changed)
      affectedRows++
    }
    return {affectedRows}
  }
}

type Answer = PublishOutcome | {status: 'channel-death'; error: Error}

/**
 * A publisher whose broker answers when the test says so (hold) or at once (answer): per message id a confirm,
 * a nack or a return, or the whole batch rejected as a dying channel rejects it.
 */
export class ScriptedPublisher implements PublisherPort {
  readonly batches: {ids: string[]; settle(): void}[] = []
  /** Batches published and not yet answered. */
  inFlight = 0
  maxInFlight = 0
  onPublish?: (ids: string[]) => void

  constructor(
    private readonly answer: (id: string) => Answer,
    private readonly hold = false,
  ) {}

  async publishBatch(messages: OutgoingMessage[]): Promise<PublishOutcome[]> {
    const ids = messages.map((m) => String(m.properties.messageId))
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    let settle!: () => void
    const answered = new Promise<void>((resolve) => (settle = resolve))
    this.batches.push({ids, settle})
    this.onPublish?.(ids)
    if (this.hold) await answered
    this.inFlight--
    const answers = ids.map((id) => this.answer(id))
    const death = answers.find((a): a is {status: 'channel-death'; error: Error} => a.status === 'channel-death')
    if (death) throw death.error
    return answers as PublishOutcome[]
  }

  async close(): Promise<void> {}
}

/** Lets every pending callback run until `done` holds (the pipeline has reached the state a test waits for). */
export async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 10_000; turn++) {
    if (done()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('the state waited for never came')
}
