import {type Config, replicaUrls} from '../config/schema.js'
import {parseDuration} from '../core/duration.js'
import {ConnectionError} from '../core/errors.js'
import {maskUrl} from '../core/mask.js'
import type {Row, SqlExecutor, SqlPort} from '../core/ports.js'
import type {AmqpAdapter} from './amqp.js'
import {ManagementClient} from './management.js'
import {DEFAULT_STATEMENT_TIMEOUT_MS, MysqlAdapter} from './mysql.js'
import {RedisAdapter} from './redis.js'
import {tlsForUrl, tlsOptions} from './tls.js'

/**
 * The connections a command uses, opened on first use and all closed by close(),
 * so that every command ends with nothing left open and the process exits at once.
 */
export class Services {
  private mysqlConn?: Promise<MysqlAdapter>
  private amqpConn?: Promise<AmqpAdapter>
  private redisConn?: Promise<RedisAdapter>
  /** One connection per replica URL, opened on first use. */
  private readonly replicaConns = new Map<string, Promise<ReplicaAdapter>>()
  readonly timeoutMs: number

  /** MySQL connections a command may use at once; the demo raises it to run its services side by side. */
  mysqlPoolSize = 4
  /** How long one MySQL statement may go unanswered; it also sets the session's wait_timeout (sessionLimits). */
  mysqlStatementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS

  constructor(readonly config: Config) {
    this.timeoutMs = parseDuration(config.connectTimeout, 'connectTimeout')
  }

  mysql(): Promise<MysqlAdapter> {
    this.mysqlConn ??= (async () => MysqlAdapter.connect(this.config.mysql.url, this.timeoutMs, this.mysqlPoolSize, this.mysqlStatementTimeoutMs, tlsOptions('mysql.tls', this.config.mysql.tls)))()
    return this.mysqlConn
  }

  /** The replica read-only work reads (the first of mysql.replicaUrl), or undefined when none is configured. */
  replica(): Promise<ReplicaAdapter> | undefined {
    const [url] = replicaUrls(this.config)
    return url === undefined ? undefined : this.replicaAt(url)
  }

  /** Every configured replica, for doctor. */
  replicas(): Promise<ReplicaAdapter>[] {
    return replicaUrls(this.config).map((url) => this.replicaAt(url))
  }

  /** Where read-only work reads: the replica when one is configured, else the primary. */
  reader(): Promise<SqlPort> {
    return this.replica() ?? this.mysql()
  }

  private replicaAt(url: string): Promise<ReplicaAdapter> {
    let conn = this.replicaConns.get(url)
    if (!conn) {
      conn = MysqlAdapter.connect(url, this.timeoutMs, this.mysqlPoolSize, this.mysqlStatementTimeoutMs, tlsOptions('mysql.tls', this.config.mysql.tls)).then(
        (adapter) => new ReplicaAdapter(adapter),
        (error: unknown) => {
          throw replicaError(url, error)
        },
      )
      this.replicaConns.set(url, conn)
    }
    return conn
  }

  amqp(): Promise<AmqpAdapter> {
    // amqplib is loaded only by the commands that talk to RabbitMQ.
    const {amqp} = this.config
    this.amqpConn ??= import('./amqp.js').then(({AmqpAdapter}) => AmqpAdapter.connect(nodeUrls(amqp), this.timeoutMs, tlsForUrl('amqp.tls', amqp.tls, amqp.url, 'amqps:')))
    return this.amqpConn
  }

  redis(): Promise<RedisAdapter> {
    this.redisConn ??= (async () => RedisAdapter.connect(this.config.redis.url, this.timeoutMs, tlsForUrl('redis.tls', this.config.redis.tls, this.config.redis.url, 'rediss:')))()
    return this.redisConn
  }

  management(): ManagementClient {
    return new ManagementClient(this.config.management.url, this.timeoutMs, nodeUrls(this.config.management).slice(1))
  }

  async close(): Promise<void> {
    const open: Promise<{close(): Promise<void>}>[] = [this.mysqlConn, this.amqpConn, this.redisConn, ...this.replicaConns.values()].filter((c) => c !== undefined)
    this.mysqlConn = this.amqpConn = this.redisConn = undefined
    this.replicaConns.clear()
    await Promise.all(open.map(async (conn) => {
      if (!conn) return
      const adapter = await conn.catch(() => undefined)
      await adapter?.close()
    }))
  }
}

/** A connection error that names the replica and how to point at another one, instead of the primary's advice. */
function replicaError(url: string, error: unknown): unknown {
  if (!(error instanceof ConnectionError)) return error
  const reason = error.message.replace(/^cannot connect to MySQL at \S+: /, '')
  return new ConnectionError('MySQL replica', `cannot reach the MySQL replica at ${maskUrl(url)}: ${reason}`, 'check that the replica is running, or the URL (--replica-url, MSGOPS_MYSQL_REPLICA_URL or mysql.replicaUrl); leave it out to read from the primary', error)
}

/** A replica's pool: the same statements as the primary's, its connection errors naming the replica. */
export class ReplicaAdapter implements SqlPort {
  constructor(private readonly mysql: MysqlAdapter) {}

  get url(): string {
    return this.mysql.url
  }

  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.mysql.query<T>(sql, params).catch((error: unknown) => {
      throw replicaError(this.url, error)
    })
  }

  execute(sql: string, params?: unknown[]): Promise<{affectedRows: number}> {
    return this.mysql.execute(sql, params).catch((error: unknown) => {
      throw replicaError(this.url, error)
    })
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.mysql.transaction(work)
  }

  version(): Promise<string> {
    return this.mysql.version()
  }

  close(): Promise<void> {
    return this.mysql.close()
  }
}

/**
 * The URLs to try, in order: amqp.urls / management.urls when set (their first is `url`, which holds the password from
 * MSGOPS_*_PASSWORD or passwordFile; a URL of the list without a password takes the first's, for the same user), shuffled when
 * asked, else `url` alone.
 */
export function nodeUrls(service: {url: string; urls?: string[]; shuffleUrls?: boolean}, random = Math.random): string[] {
  const list = service.urls ?? []
  if (list.length === 0) return [service.url]
  const first = new URL(service.url)
  const urls = [service.url, ...list.slice(1).map((u) => {
    const url = new URL(u)
    if (url.password !== '' || first.password === '') return u
    if (url.username === '') url.username = first.username
    else if (url.username !== first.username) return u
    url.password = first.password
    return url.toString()
  })]
  if (service.shuffleUrls) for (let i = urls.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[urls[i], urls[j]] = [urls[j], urls[i]]
  }
  return urls
}
