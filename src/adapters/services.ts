import type {Config} from '../config/schema.js'
import {parseDuration} from '../core/duration.js'
import type {AmqpAdapter} from './amqp.js'
import {ManagementClient} from './management.js'
import {DEFAULT_STATEMENT_TIMEOUT_MS, MysqlAdapter} from './mysql.js'
import {RedisAdapter} from './redis.js'

/**
 * The connections a command uses, opened on first use and all closed by close(),
 * so that every command ends with nothing left open and the process exits at once.
 */
export class Services {
  private mysqlConn?: Promise<MysqlAdapter>
  private amqpConn?: Promise<AmqpAdapter>
  private redisConn?: Promise<RedisAdapter>
  readonly timeoutMs: number

  /** MySQL connections a command may use at once; the demo raises it to run its services side by side. */
  mysqlPoolSize = 4
  /** How long one MySQL statement may go unanswered; it also sets the session's wait_timeout (sessionLimits). */
  mysqlStatementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS

  constructor(readonly config: Config) {
    this.timeoutMs = parseDuration(config.connectTimeout, 'connectTimeout')
  }

  mysql(): Promise<MysqlAdapter> {
    this.mysqlConn ??= MysqlAdapter.connect(this.config.mysql.url, this.timeoutMs, this.mysqlPoolSize, this.mysqlStatementTimeoutMs)
    return this.mysqlConn
  }

  amqp(): Promise<AmqpAdapter> {
    // amqplib is loaded only by the commands that talk to RabbitMQ.
    this.amqpConn ??= import('./amqp.js').then(({AmqpAdapter}) => AmqpAdapter.connect(this.config.amqp.url, this.timeoutMs))
    return this.amqpConn
  }

  redis(): Promise<RedisAdapter> {
    this.redisConn ??= RedisAdapter.connect(this.config.redis.url, this.timeoutMs)
    return this.redisConn
  }

  management(): ManagementClient {
    return new ManagementClient(this.config.management.url, this.timeoutMs)
  }

  async close(): Promise<void> {
    const open = [this.mysqlConn, this.amqpConn, this.redisConn]
    this.mysqlConn = this.amqpConn = this.redisConn = undefined
    await Promise.all(open.map(async (conn) => {
      if (!conn) return
      const adapter = await conn.catch(() => undefined)
      await adapter?.close()
    }))
  }
}
