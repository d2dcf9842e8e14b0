import {Redis} from 'ioredis'

import {ConnectionError, oneLine, OperationError} from '../core/errors.js'
import {maskSecrets, maskUrl} from '../core/mask.js'
import type {LockStore} from '../core/ports.js'
import {withTimeout} from '../core/time.js'
import {isTlsFailure, type TlsOptions, tlsReason} from './tls.js'
import {type Compared, CompareReader, RespConnection, type RespTarget} from './resp.js'

const SUGGESTION = 'check that Redis is running and the URL (--redis-url, MSGOPS_REDIS_URL or redis.url)'

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`

/** One Redis client, no reconnect loop and no offline queue: a dead server fails the command at once. */
export class RedisAdapter implements LockStore {
  private raw?: Promise<RespConnection>

  private constructor(
    readonly client: Redis,
    readonly url: string,
  ) {}

  /** With `tls` (redis.tls, a rediss:// URL), the server's certificate is checked against its CA and a client certificate sent. */
  static async connect(url: string, timeoutMs: number, tls?: TlsOptions): Promise<RedisAdapter> {
    const client = new Redis(url, {
      ...(tls ? {tls} : {}),
      lazyConnect: true,
      connectTimeout: timeoutMs,
      commandTimeout: Math.max(timeoutMs, 10_000),
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      reconnectOnError: () => false,
    })
    // With no retries, connect() only says "Connection is closed": the cause arrives as an 'error' event.
    let cause: unknown
    client.on('error', (error) => {
      cause ??= error
    })
    try {
      // connectTimeout covers only the TCP connect; a server that accepts and never answers is caught here.
      await withTimeout((async () => {
        await client.connect()
        await client.ping()
      })(), timeoutMs)
    } catch (error) {
      client.disconnect()
      const failure = redisConnectionError(url, cause ?? error, timeoutMs)
      // Redis drops a TLS client without a certificate it requires without a word: say what may be missing.
      if (tls && !tls.cert && /ECONNRESET/.test(failure.message))
        throw new ConnectionError('Redis', `${failure.message} during the TLS handshake (the server may require a client certificate: set redis.tls.cert and redis.tls.key)`, failure.suggestion, error)
      throw failure
    }
    return new RedisAdapter(client, url)
  }

  async version(): Promise<string> {
    const info = await this.run(() => this.client.info('server'))
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
  }

  async ping(): Promise<void> {
    await this.run(() => this.client.ping())
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    return (await this.run(() => this.client.set(key, value, 'PX', ttlMs, 'NX'))) === 'OK'
  }

  async get(key: string): Promise<string | null> {
    return this.run(() => this.client.get(key))
  }

  async renewIfEquals(key: string, value: string, ttlMs: number): Promise<boolean> {
    return Number(await this.run(() => this.client.eval(RENEW, 1, key, value, String(ttlMs)))) === 1
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    return Number(await this.run(() => this.client.eval(RELEASE, 1, key, value))) === 1
  }

  async addMember(set: string, member: string): Promise<void> {
    await this.run(() => this.client.sadd(set, member))
  }

  async removeMember(set: string, member: string): Promise<void> {
    await this.run(() => this.client.srem(set, member))
  }

  /**
   * Sends encoded commands (resp.ts) on a second, raw connection (opened on first use) and compares the values they
   * answer with the expected bytes without decoding the equal ones; `array`: the replies come in one array (MGET).
   */
  async compare(commands: Buffer, expected: (Buffer | null)[], array: boolean): Promise<Compared[]> {
    return this.run(async () => {
      this.raw ??= RespConnection.open(this.client.options as RespTarget, this.client.options.commandTimeout ?? 10_000)
      const raw = await this.raw
      return raw.send(commands, new CompareReader(expected, array))
    })
  }

  /** Maps driver failures to our errors so that no raw driver message or stack escapes. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      const message = (error as Error).message ?? ''
      if (/closed|ECONN|ETIMEDOUT|EPIPE|timed out|Stream isn't writeable|enableOfflineQueue/i.test(message))
        throw redisConnectionError(this.url, error)
      throw new OperationError(`Redis: ${oneLine(maskSecrets(message))}`, undefined, error)
    }
  }

  async close(): Promise<void> {
    const raw = this.raw
    this.raw = undefined
    if (raw) (await raw.catch(() => undefined))?.close()
    if (this.client.status === 'end') return
    await withTimeout(this.client.quit(), 2000).catch(() => this.client.disconnect())
  }
}

export function redisConnectionError(url: string, error: unknown, timeoutMs?: number): ConnectionError {
  const e = error as {code?: string; message?: string}
  let reason: string
  if (isTlsFailure(error)) reason = `TLS: ${tlsReason(oneLine(maskSecrets(e.message ?? String(e.code))))}`
  else if (e.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(e.message ?? '')) reason = 'connection refused'
  else if (/TIMEOUT|ETIMEDOUT|timed? ?out/i.test(`${e.code} ${e.message}`)) reason = `no answer within ${timeoutMs ?? 'the'} ms`
  else if (/WRONGPASS|NOAUTH|invalid password/i.test(e.message ?? '')) reason = 'authentication failed'
  else reason = oneLine(maskSecrets(e.message ?? String(error)))
  return new ConnectionError('Redis', `cannot connect to Redis at ${maskUrl(url)}: ${reason}`, SUGGESTION, error)
}
