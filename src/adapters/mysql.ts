import mysql, {type Pool, type PoolConnection, type ResultSetHeader, type RowDataPacket} from 'mysql2/promise'

import {ConnectionError, OperationError, oneLine} from '../core/errors.js'
import {maskSecrets, maskUrl} from '../core/mask.js'
import type {Row, SqlExecutor, SqlPort} from '../core/ports.js'
import {withTimeout} from '../core/time.js'
import {isTlsFailure, type TlsOptions, tlsReason} from './tls.js'

const SUGGESTION = 'check that MySQL is running and the URL (--mysql-url, MSGOPS_MYSQL_URL or mysql.url)'

/** Codes that mean the server could not be reached or refused us, rather than a bad statement. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_HOST_NOT_PRIVILEGED',
  'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR',
])

/** How long one statement may go unanswered when the command does not say (the drain uses its --timeout). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 300_000

/**
 * The session limits of msgops' connections. The server drops a session silent for waitTimeoutS (its own default is
 * 8 h), which ends a partitioned run's session and releases its row locks: twice the statement timeout plus a minute,
 * because the longest silence of a live session is a drain waiting for confirms (at most its --timeout + 5 s, and its
 * statement timeout is at least its --timeout). The pool closes an idle connection after idleTimeoutMs, well before
 * the server would, so it never hands out a session the server already dropped.
 */
export function sessionLimits(statementTimeoutMs: number): {waitTimeoutS: number; idleTimeoutMs: number} {
  const waitTimeoutS = Math.ceil((2 * statementTimeoutMs) / 1000) + 60
  return {waitTimeoutS, idleTimeoutMs: Math.min(60_000, waitTimeoutS * 500)}
}

export class MysqlAdapter implements SqlPort {
  private constructor(
    private readonly pool: Pool,
    readonly url: string,
    readonly database: string,
    /**
     * How long one statement may go unanswered before the connection is given up: a server that stopped
     * answering without closing the socket (a partition, a frozen host) must end the command, not hang it.
     */
    readonly statementTimeoutMs: number,
  ) {}

  /**
   * The session's offset from UTC (+HH:MM), read at connect: DATETIME values are the session's wall-clock time (what
   * NOW() wrote), so they are read and written as instants in that offset, whatever the client's TZ is.
   */
  private timezone = 'Z'

  /** Opens a small pool and proves it with one round trip, within timeoutMs; with `tls`, every connection is TLS (mysql.tls). */
  static async connect(url: string, timeoutMs: number, poolSize = 4, statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS, tls?: TlsOptions): Promise<MysqlAdapter> {
    const parsed = new URL(url)
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
    const limits = sessionLimits(statementTimeoutMs)
    const pool = mysql.createPool({
      host: parsed.hostname,
      port: parsed.port ? Number(parsed.port) : 3306,
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      database: database || undefined,
      connectTimeout: timeoutMs,
      connectionLimit: poolSize,
      // mysql2 (lib/base/pool.js) runs the idle sweep that applies idleTimeout only when maxIdle < connectionLimit.
      maxIdle: poolSize - 1,
      idleTimeout: limits.idleTimeoutMs,
      enableKeepAlive: true,
      supportBigNumbers: true,
      // JSON columns as the text stored: published bodies stay byte for byte what the application wrote.
      jsonStrings: true,
      bigNumberStrings: true,
      // Binary JSON columns come back as strings on MariaDB and objects on MySQL; callers normalise.
      multipleStatements: false,
      // No stack captured per query for async error traces: errors are mapped to ours and shown without a stack.
      trace: false,
      ...(tls ? {ssl: tls} : {}),
    })
    pool.pool.on('connection', (conn) => {
      // A dead server must not become an unhandled 'error' event that crashes the process.
      conn.on('error', () => {})
      // Queued before the connection's first statement; should a server or proxy refuse it, the session keeps its default.
      // group_concat_max_len: reconcile reads keys packed in one row, 2 MB at most (a longer one is read again in pages).
      conn.query(`SET SESSION wait_timeout = ${limits.waitTimeoutS}, group_concat_max_len = 2097152`, () => {})
    })
    const adapter = new MysqlAdapter(pool, url, database, statementTimeoutMs)
    try {
      const [rows] = await withTimeout(pool.query<RowDataPacket[]>('SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW()) AS off'), timeoutMs)
      adapter.timezone = utcOffset(Number(rows[0]?.off ?? 0))
    } catch (error) {
      await pool.end().catch(() => {})
      throw connectionError(url, error, timeoutMs)
    }
    return adapter
  }

  async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    return runQuery<T>(this.pool, {sql, timeout: this.statementTimeoutMs, timezone: this.timezone}, params, this.url)
  }

  async execute(sql: string, params: unknown[] = []): Promise<{affectedRows: number}> {
    return runExecute(this.pool, {sql, timeout: this.statementTimeoutMs, timezone: this.timezone}, params, this.url)
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let conn: PoolConnection
    try {
      conn = await withTimeout(this.pool.getConnection(), this.statementTimeoutMs)
    } catch (error) {
      throw connectionError(this.url, error, this.statementTimeoutMs)
    }
    const ms = this.statementTimeoutMs
    const options = (sql: string, timeout = ms) => ({sql, timeout, timezone: this.timezone})
    const tx: SqlExecutor = {
      query: <R extends Row = Row>(sql: string, params: unknown[] = []) => runQuery<R>(conn, options(sql), params, this.url),
      execute: (sql, params = []) => runExecute(conn, options(sql), params, this.url),
    }
    let broken = false
    try {
      await runExecute(conn, options('START TRANSACTION'), [], this.url)
      const result = await work(tx)
      await runExecute(conn, options('COMMIT'), [], this.url)
      return result
    } catch (error) {
      broken = error instanceof ConnectionError
      // A connection that stopped answering cannot roll back: destroying it makes the server roll back.
      if (!broken) await runExecute(conn, options('ROLLBACK', Math.min(ms, 10_000)), [], this.url).catch(() => (broken = true))
      throw error
    } finally {
      if (broken) conn.destroy()
      else conn.release()
    }
  }

  async version(): Promise<string> {
    const rows = await this.query<{v: string}>('SELECT VERSION() AS v')
    return String(rows[0]?.v ?? '')
  }

  async close(timeoutMs = 2000): Promise<void> {
    await withTimeout(this.pool.end(), timeoutMs).catch(() => {})
  }
}

type Queryable = Pick<Pool, 'query'>
type QueryOptions = {sql: string; timeout: number; timezone: string}

async function runQuery<T>(on: Queryable, options: QueryOptions, params: unknown[], url: string): Promise<T[]> {
  try {
    const [rows] = await on.query(options, params)
    return rows as T[]
  } catch (error) {
    throw sqlError(url, error, options.timeout)
  }
}

async function runExecute(on: Queryable, options: QueryOptions, params: unknown[], url: string): Promise<{affectedRows: number}> {
  try {
    const [result] = await on.query<ResultSetHeader>(options, params)
    return {affectedRows: result.affectedRows}
  } catch (error) {
    throw sqlError(url, error, options.timeout)
  }
}

/** An offset in seconds as mysql2 takes it: "+08:00", "-05:30", "Z" for none (rounded to the minute). */
export function utcOffset(seconds: number): string {
  const minutes = Math.round(seconds / 60)
  if (minutes === 0) return 'Z'
  const abs = Math.abs(minutes)
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
}

function sqlError(url: string, error: unknown, timeoutMs?: number): Error {
  const code = (error as {code?: string}).code
  if (code && CONNECTION_CODES.has(code)) return connectionError(url, error, timeoutMs)
  const message = oneLine(maskSecrets((error as Error).message ?? String(error)))
  return new OperationError(`MySQL: ${message}`, undefined, error)
}

export function connectionError(url: string, error: unknown, timeoutMs?: number): ConnectionError {
  const code = (error as {code?: string}).code
  const reason = code === 'TIMEOUT' || code === 'ETIMEDOUT' || code === 'PROTOCOL_SEQUENCE_TIMEOUT'
    ? `no answer within ${timeoutMs ? `${timeoutMs} ms` : 'the timeout'}`
    : isTlsFailure(error) ? `TLS: ${tlsReason(oneLine(maskSecrets(describe(error))))}` : oneLine(maskSecrets(describe(error)))
  return new ConnectionError('MySQL', `cannot connect to MySQL at ${maskUrl(url)}: ${reason}`, SUGGESTION, error)
}

function describe(error: unknown): string {
  const e = error as {code?: string; message?: string}
  if (e.code === 'ECONNREFUSED') return 'connection refused'
  if (e.code === 'ENOTFOUND') return 'host not found'
  return e.message && e.message !== '' ? e.message : (e.code ?? String(error))
}

