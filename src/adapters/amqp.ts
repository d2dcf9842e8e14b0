import amqp, {type Channel, type ChannelModel, type ConfirmChannel} from 'amqplib'

import {ConnectionError, OperationError, oneLine} from '../core/errors.js'
import {maskSecrets, maskUrl} from '../core/mask.js'
import {withTimeout} from '../core/time.js'
import {isTlsFailure, type TlsOptions, tlsReason} from './tls.js'

const SUGGESTION = 'check that RabbitMQ is running and the URL (--amqp-url, MSGOPS_AMQP_URL or amqp.url)'

/** One AMQP connection, no automatic recovery: a command fails fast and says so instead of retrying forever. */
export class AmqpAdapter {
  /** Set when the broker closed the connection or it broke; operations check it to fail with a clear line. */
  closedWith?: Error
  blocked?: string
  private closing = false

  private constructor(
    readonly model: ChannelModel,
    readonly url: string,
  ) {
    model.on('error', (error: Error) => {
      this.closedWith ??= error
    })
    model.on('close', (error?: Error) => {
      if (!this.closing) this.closedWith ??= error ?? new Error('connection closed')
    })
    model.on('blocked', (reason: string) => {
      this.blocked = reason
    })
    model.on('unblocked', () => {
      this.blocked = undefined
    })
  }

  /** One URL, or a cluster's nodes (amqp.urls): each tried in turn within timeoutMs, the first that answers is used. */
  static async connect(urls: string | string[], timeoutMs: number, tls?: TlsOptions): Promise<AmqpAdapter> {
    const list = typeof urls === 'string' ? [urls] : urls
    const failures: ConnectionError[] = []
    for (const url of list) {
      try {
        const model = await withTimeout(
          amqp.connect(url, {timeout: timeoutMs, clientProperties: {connection_name: `msgops ${process.pid}`}, ...(tls ?? {})}),
          timeoutMs,
        )
        return new AmqpAdapter(model, url)
      } catch (error) {
        failures.push(amqpConnectionError(url, error, timeoutMs))
      }
    }
    if (failures.length === 1) throw failures[0]
    // One line for all of them: each URL (masked) with its reason.
    const reasons = failures.map((f, n) => `${maskUrl(list[n])} (${f.message.replace(/^cannot connect to RabbitMQ at \S+: /, '')})`)
    throw new ConnectionError('RabbitMQ', `cannot connect to RabbitMQ at any of its ${list.length} URLs: ${reasons.join('; ')}`, SUGGESTION.replace('amqp.url)', 'amqp.urls)'), failures[0].cause)
  }

  get version(): string {
    return String(this.model.connection.serverProperties.version ?? 'unknown')
  }

  get product(): string {
    return String(this.model.connection.serverProperties.product ?? 'RabbitMQ')
  }

  async confirmChannel(): Promise<ConfirmChannel> {
    try {
      const channel = await this.model.createConfirmChannel()
      channel.on('error', () => {})
      return channel
    } catch (error) {
      throw amqpConnectionError(this.url, error)
    }
  }

  async channel(): Promise<Channel> {
    try {
      const channel = await this.model.createChannel()
      // Channel errors (e.g. a 404 on a passive declare) also reject the call that caused them.
      channel.on('error', () => {})
      return channel
    } catch (error) {
      throw amqpConnectionError(this.url, error)
    }
  }

  /**
   * A passive declare on a throwaway channel: true when the exchange exists, false on 404 NOT_FOUND.
   * The broker closes a channel on a 404, so each check has its own channel.
   */
  async exchangeExists(name: string): Promise<boolean> {
    const channel = await this.channel()
    try {
      await channel.checkExchange(name)
      return true
    } catch (error) {
      if ((error as {code?: unknown}).code === 404) return false
      if (this.closedWith) throw amqpConnectionError(this.url, this.closedWith)
      throw new OperationError(`RabbitMQ refused to check exchange "${name}": ${oneLine((error as Error).message ?? String(error))}`, 'check the broker and the permissions of the user, and run again')
    } finally {
      await channel.close().catch(() => {})
    }
  }

  /** Closes politely, but a socket that died without a word never answers: then it is destroyed. */
  async close(timeoutMs = 2000): Promise<void> {
    this.closing = true
    try {
      await withTimeout(this.model.close(), timeoutMs)
    } catch {
      ;(this.model.connection as unknown as {stream?: {destroy(): void}}).stream?.destroy()
    }
  }
}

export function amqpConnectionError(url: string, error: unknown, timeoutMs?: number): ConnectionError {
  const e = error as {code?: string; message?: string}
  let reason: string
  if (isTlsFailure(error)) reason = `TLS: ${tlsReason(oneLine(maskSecrets(e.message ?? String(e.code))))}`
  else if (e.code === 'TIMEOUT' || e.code === 'ETIMEDOUT' || /timeout/i.test(e.message ?? '')) reason = `no answer within ${timeoutMs ?? 'the'} ms`
  else if (e.code === 'ECONNREFUSED') reason = 'connection refused'
  else if (e.code === 'ENOTFOUND') reason = 'host not found'
  else if (/ACCESS[-_]REFUSED|403/.test(e.message ?? '')) reason = 'access refused (wrong user or password)'
  else if (/NOT_ALLOWED|access to vhost|Expected ConnectionOpenOk; got <ConnectionClose/i.test(e.message ?? '')) {
    // The broker closes the handshake of an unknown vhost (or one the user may not use) without a reason amqplib keeps.
    const vhost = vhostOf(url)
    return new ConnectionError(
      'RabbitMQ',
      `cannot connect to RabbitMQ at ${maskUrl(url)}: the virtual host "${vhost}" does not exist or this user may not use it`,
      `create it (rabbitmqctl add_vhost ${vhost}; rabbitmqctl set_permissions -p ${vhost} USER ".*" ".*" ".*") or fix the vhost at the end of the AMQP URL`,
      error,
    )
  } else reason = oneLine(maskSecrets(e.message ?? String(error)))
  return new ConnectionError('RabbitMQ', `cannot connect to RabbitMQ at ${maskUrl(url)}: ${reason}`, SUGGESTION, error)
}

/** The virtual host an AMQP URL names: the path without its slash, "/" when there is none. */
function vhostOf(url: string): string {
  try {
    const path = new URL(url).pathname
    return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1))
  } catch {
    return '/'
  }
}
