import http from 'node:http'
import https from 'node:https'

import {ConnectionError, OperationError, oneLine} from '../core/errors.js'
import {maskUrl} from '../core/mask.js'
import {isTlsFailure, tlsReason} from './tls.js'

const SUGGESTION = 'enable it with `rabbitmq-plugins enable rabbitmq_management` and check --management-url (MSGOPS_MANAGEMENT_URL or management.url)'

/**
 * The RabbitMQ management HTTP API, with basic auth taken from the URL and a timeout on every call. With several URLs
 * (management.urls, a cluster's nodes) a request that cannot reach one node goes to the next, which is kept for the
 * following requests.
 */
export class ManagementClient {
  private readonly nodes: {url: string; base: string; auth: string}[]
  private current = 0

  constructor(
    url: string,
    private readonly timeoutMs: number,
    others: string[] = [],
  ) {
    this.nodes = [url, ...others.filter((o) => o !== url)].map((u) => {
      const parsed = new URL(u)
      const auth = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`
      parsed.username = ''
      parsed.password = ''
      return {url: u, base: parsed.toString().replace(/\/$/, ''), auth}
    })
  }

  /** The URL of the node in use. */
  get url(): string {
    return this.nodes[this.current].url
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<{status: number; data: T}> {
    let response: {status: number; text: string} | undefined
    const failures: string[] = []
    for (let tried = 0; tried < this.nodes.length && !response; tried++) {
      const node = this.nodes[this.current]
      try {
        response = await send(`${node.base}/api${path}`, method, node.auth, body === undefined ? undefined : JSON.stringify(body), this.timeoutMs)
      } catch (error) {
        failures.push(`${maskUrl(node.url)}: ${fetchFailure(error, this.timeoutMs)}`)
        if (tried === this.nodes.length - 1) {
          const what = this.nodes.length === 1 ? `the RabbitMQ management API at ${failures[0]}` : `the RabbitMQ management API at any of its ${this.nodes.length} URLs (${failures.join('; ')})`
          throw new ConnectionError('RabbitMQ management API', `cannot reach ${what}`, SUGGESTION, error)
        }
        this.current = (this.current + 1) % this.nodes.length
      }
    }
    if (!response) throw new ConnectionError('RabbitMQ management API', 'cannot reach the RabbitMQ management API', SUGGESTION)
    const {text} = response
    if (response.status === 401)
      throw new ConnectionError('RabbitMQ management API', `the RabbitMQ management API at ${maskUrl(this.url)} refused the credentials`, 'check the user and password in the management URL')
    let data: unknown = undefined
    if (text !== '') {
      try {
        data = JSON.parse(text)
      } catch {
        throw new OperationError(`the RabbitMQ management API answered ${method} ${path} with something that is not JSON (HTTP ${response.status})`)
      }
    }
    return {status: response.status, data: data as T}
  }

  async get<T = unknown>(path: string): Promise<T> {
    const {status, data} = await this.request<T>('GET', path)
    if (status >= 400) throw new OperationError(`the RabbitMQ management API answered GET ${path} with HTTP ${status}`)
    return data
  }

  async overview(): Promise<{rabbitmq_version?: string; management_version?: string; cluster_name?: string}> {
    return this.get('/overview')
  }
}

/** Kept-alive connections, one pool per scheme: a trace's calls after the first skip the TCP (and TLS) handshake. */
const agents = {http: new http.Agent({keepAlive: true}), https: new https.Agent({keepAlive: true})}

/**
 * One request on node:http(s), its answer read whole, within timeoutMs from the start to the last byte (as fetch with
 * AbortSignal.timeout did; node:http rather than fetch: the first fetch() of a process loads undici and compiles its
 * HTTP parser, ~70 ms of CPU, against a few ms here). Fails as fetch did, the reason in `cause`, for fetchFailure.
 */
function send(url: string, method: string, authorization: string, body: string | undefined, timeoutMs: number): Promise<{status: number; text: string}> {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const secure = target.protocol === 'https:'
    const headers: Record<string, string | number> = {authorization, 'content-type': 'application/json', accept: 'application/json'}
    if (body !== undefined) headers['content-length'] = Buffer.byteLength(body)
    let settled = false
    const fail = (cause: unknown) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(Object.assign(new TypeError('fetch failed'), {cause}))
    }
    const request = (secure ? https : http).request(target, {method, headers, agent: secure ? agents.https : agents.http}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', fail)
      res.on('aborted', () => fail(Object.assign(new Error('the answer was cut short'), {code: 'ECONNRESET'})))
      res.on('end', () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve({status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8')})
      })
    })
    const timer = setTimeout(() => {
      const timeout = Object.assign(new Error(`no answer within ${timeoutMs} ms`), {name: 'TimeoutError'})
      fail(timeout)
      request.destroy(timeout)
    }, timeoutMs)
    request.on('error', fail)
    request.end(body)
  })
}

/**
 * Why a request failed, in words: its error is a bare "TypeError: fetch failed" (as fetch() made it) whose reason sits in `cause`.
 *
 * | cause                                         | reason                                                        |
 * | --------------------------------------------- | ------------------------------------------------------------- |
 * | ECONNREFUSED                                  | connection refused (is the rabbitmq_management plugin on?)    |
 * | ENOTFOUND, EAI_AGAIN                          | host not found                                                |
 * | a timeout (TimeoutError, ETIMEDOUT, UND_ERR_CONNECT_TIMEOUT) | no answer within N ms                          |
 * | ECONNRESET, UND_ERR_SOCKET, HPE_* (not HTTP)  | the connection was closed: is this the management port?        |
 * | a TLS certificate code (CERT_*, *_SELF_SIGNED*, ERR_TLS_*), another TLS failure (EPROTO: https to a plain port) | TLS: the reason (tlsReason) |
 * | anything else                                 | the cause's message, else the error's                          |
 */
export function fetchFailure(error: unknown, timeoutMs: number): string {
  const e = error as {name?: string; message?: string; cause?: {code?: string; name?: string; message?: string}}
  const code = e.cause?.code ?? ''
  if (code === 'ECONNREFUSED') return 'connection refused (is the rabbitmq_management plugin enabled?)'
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found'
  if (e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return `no answer within ${timeoutMs} ms`
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code.startsWith('HPE_')) return 'the connection was closed without an HTTP answer (is this the management port, 15672?)'
  if (/CERT|SELF_SIGNED|ERR_TLS/.test(code) || (e.cause !== undefined && isTlsFailure(e.cause))) return `TLS: ${tlsReason(oneLine(e.cause?.message ?? code))}`
  return oneLine(e.cause?.message ?? e.message ?? String(error))
}

/** The type and delivery limit of a queue (its arguments, then its policy), or null when the management API cannot tell. */
export async function queueKind(management: ManagementClient, vhost: string, queue: string): Promise<{type: string | null; deliveryLimit: number | null} | null> {
  try {
    const info = await management.get<{arguments?: Record<string, unknown>; type?: string; effective_policy_definition?: Record<string, unknown>}>(
      `/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(queue)}`,
    )
    const limit = info.arguments?.['x-delivery-limit'] ?? info.effective_policy_definition?.['delivery-limit']
    return {type: String(info.arguments?.['x-queue-type'] ?? info.type ?? 'classic'), deliveryLimit: typeof limit === 'number' ? limit : null}
  } catch {
    return null
  }
}
