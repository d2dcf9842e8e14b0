import {readFileSync} from 'node:fs'

import type {TlsSettings} from '../config/schema.js'
import {ConfigError} from '../core/errors.js'

/** What mysql2, amqplib (amqps) and ioredis (rediss) take for TLS: node:tls options. */
export interface TlsOptions {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  rejectUnauthorized: boolean
}

/**
 * The TLS options of a service from its configuration (`key`: mysql.tls, amqp.tls, redis.tls), the files read now so
 * that a wrong path is a one-line configuration error naming the key, not a driver error at the handshake.
 * undefined: no TLS options configured.
 */
export function tlsOptions(key: string, tls: TlsSettings | null | undefined): TlsOptions | undefined {
  if (!tls) return undefined
  const read = (name: 'ca' | 'cert' | 'key') => {
    const path = tls[name]
    if (!path) return undefined
    try {
      return readFileSync(path)
    } catch (error) {
      throw new ConfigError(`${key}.${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path and that msgops may read it')
    }
  }
  const out: TlsOptions = {rejectUnauthorized: tls.rejectUnauthorized ?? true}
  for (const name of ['ca', 'cert', 'key'] as const) {
    const bytes = read(name)
    if (bytes) out[name] = bytes
  }
  return out
}

/** TLS options for a URL whose scheme says whether it is encrypted: options on a plain URL are a configuration error. */
export function tlsForUrl(key: string, tls: TlsSettings | null | undefined, url: string, secure: string): TlsOptions | undefined {
  const options = tlsOptions(key, tls)
  if (options && new URL(url).protocol !== secure)
    throw new ConfigError(`${key} is set but the URL is ${new URL(url).protocol}//…: TLS options need a ${secure}// URL`, `use ${secure}//host… or remove ${key}`)
  return options
}

/** Node's codes (and mysql2's) for a TLS handshake that failed: said as "TLS: …" in the one line. */
export function isTlsFailure(error: unknown): boolean {
  const e = error as {code?: string; message?: string}
  return /CERT|SELF_SIGNED|ERR_TLS|ERR_SSL|HANDSHAKE_NO_SSL|EPROTO/.test(e.code ?? '') || /certificate|SSL routines|wrong version number|secure connection/i.test(e.message ?? '')
}

/**
 * A TLS failure in words: OpenSSL's alerts named, its codes and source paths left out.
 *
 * | the handshake's error                                  | reason                                                  |
 * | ------------------------------------------------------ | ------------------------------------------------------- |
 * | alert certificate required                             | the server requires a client certificate (tls.cert, key)|
 * | alert unknown ca / bad certificate / certificate unknown | the server refused the client certificate               |
 * | any other OpenSSL line                                 | its reason (`ssl3_read_bytes:<reason>`), without codes  |
 * | anything else                                          | the message as it is                                    |
 */
export function tlsReason(message: string): string {
  if (/alert certificate required/i.test(message)) return 'the server requires a client certificate (set tls.cert and tls.key)'
  if (/alert (unknown ca|bad certificate|certificate unknown)/i.test(message)) return 'the server refused the client certificate'
  const openssl = /SSL routines:[^:]*:([^:]+):/.exec(message)
  return openssl ? openssl[1] : message
}
