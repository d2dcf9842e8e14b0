import {ConnectionError, OperationError} from '../core/errors.js'
import {maskUrl} from '../core/mask.js'

const SUGGESTION = 'enable it with `rabbitmq-plugins enable rabbitmq_management` and check --management-url (MSGOPS_MANAGEMENT_URL or management.url)'

/** The RabbitMQ management HTTP API, with basic auth taken from the URL and a timeout on every call. */
export class ManagementClient {
  private readonly base: string
  private readonly auth: string

  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
  ) {
    const parsed = new URL(url)
    this.auth = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`
    parsed.username = ''
    parsed.password = ''
    this.base = parsed.toString().replace(/\/$/, '')
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<{status: number; data: T}> {
    let response: Response
    try {
      response = await fetch(`${this.base}/api${path}`, {
        method,
        headers: {authorization: this.auth, 'content-type': 'application/json'},
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (error) {
      const cause = (error as {cause?: {code?: string}}).cause?.code ?? (error as Error).name
      const reason = cause === 'ECONNREFUSED' ? 'connection refused' : cause === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : cause
      throw new ConnectionError('RabbitMQ management API', `cannot reach the RabbitMQ management API at ${maskUrl(this.url)}: ${reason}`, SUGGESTION, error)
    }
    const text = await response.text()
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
