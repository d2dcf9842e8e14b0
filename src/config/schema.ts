import {z} from 'zod'

import {parseDuration} from '../core/duration.js'
import {IDENTIFIER} from '../core/sql.js'

const identifier = z.string().regex(IDENTIFIER, {message: 'must be a SQL identifier (letters, digits and _, at most 64 characters)'})
/** A mapped column; null means the table has no such column. */
const column = identifier.nullable()
const statusValue = z.union([z.string().min(1).max(64), z.number().int()])

function urlOf(what: string, schemes: string[]) {
  return z.string().refine((value) => {
    // WHATWG URL accepts `amqp:/u:p@h` and `amqp:u:p@h`; we insist on scheme://host so credentials are where we mask them.
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s]/i.test(value)) return false
    try {
      const url = new URL(value)
      return schemes.includes(url.protocol) && url.hostname !== ''
    } catch {
      return false
    }
  }, {message: `must be a ${what} URL (${schemes.map((s) => `${s}//host…`).join(' or ')})`})
}

const duration = z.string().refine((value) => {
  try {
    parseDuration(value)
    return true
  } catch {
    return false
  }
}, {message: 'must be a duration such as 500ms, 5s or 2m'})

const positiveDuration = z.string().refine((value) => {
  try {
    return parseDuration(value) > 0
  } catch {
    return false
  }
}, {message: 'must be a duration above zero such as 12h, 7d or 2w'})

export const outboxColumns = z.strictObject({
  id: identifier,
  aggregateType: column,
  aggregateId: column,
  eventType: column,
  exchange: column,
  routingKey: column,
  payload: identifier,
  headers: column,
  status: identifier,
  attempts: column,
  lastError: column,
  createdAt: column,
  availableAt: column,
  sentAt: column,
})

export const inboxColumns = z.strictObject({
  messageId: identifier,
  consumer: column,
  aggregateId: column,
  status: identifier,
  attempts: column,
  lastError: column,
  receivedAt: identifier,
  processedAt: column,
})

export const orderColumns = z.strictObject({
  id: identifier,
  messageId: column,
  status: column,
  createdAt: column,
  updatedAt: column,
})

/** A file holding the service's password (read when connecting; refused when others may read it). */
const passwordFile = z.string().min(1).max(4096).nullable().optional()

const pemFile = z.string().min(1).max(4096).nullable().optional()
/**
 * TLS to a service: the CA that signed the server's certificate (else the system's), a client certificate and key (both
 * or neither) and whether a certificate that does not verify is refused (default true). null: no TLS options.
 */
export const tlsSettings = z
  .strictObject({ca: pemFile, cert: pemFile, key: pemFile, rejectUnauthorized: z.boolean().optional()})
  .refine((t) => Boolean(t.cert) === Boolean(t.key), {message: 'cert and key go together: give both files or neither'})
  .nullable()
  .optional()
export type TlsSettings = NonNullable<z.infer<typeof tlsSettings>>

/**
 * A list of URLs tried in turn (a cluster's nodes): when it is not empty it replaces `url`, which then holds the first of
 * them (its vhost, user and host are what every command names), as Spring's `addresses` replaces `host`.
 */
function urlList(what: string, schemes: string[]) {
  return z.array(urlOf(what, schemes)).max(32).optional()
}

/** The first URL of a non-empty list becomes `url`; every URL of an AMQP list must name the same virtual host. */
function withUrlList<T extends {url: string; urls?: string[]}>(value: T, ctx: z.core.$RefinementCtx<T>, sameVhost: boolean): T {
  const urls = value.urls ?? []
  if (urls.length === 0) return value
  if (sameVhost) {
    const vhost = (u: string) => new URL(u).pathname.replace(/^\//, '') || '/'
    const other = urls.findIndex((u) => vhost(u) !== vhost(urls[0]))
    if (other > 0) ctx.addIssue({code: 'custom', path: ['urls', other], message: 'every URL of the list must name the same virtual host as the first'})
  }
  return {...value, url: urls[0]}
}

const mysqlUrl = urlOf('MySQL', ['mysql:'])

const settings = {
  mysql: z.strictObject({
    url: mysqlUrl,
    passwordFile,
    /** Read replicas (one URL or a list): read-only work reads the first; writes and final checks stay on the primary. */
    replicaUrl: z.union([mysqlUrl, z.array(mysqlUrl).min(1).max(32)]).nullable().optional(),
    /** A pt-heartbeat style table (a time column the primary updates every second): the replica's lag is read from it instead of SHOW REPLICA STATUS. */
    heartbeat: z.strictObject({table: identifier, column: identifier}).nullable().optional(),
    tls: tlsSettings,
  }),
  amqp: z
    .strictObject({
      url: urlOf('AMQP', ['amqp:', 'amqps:']),
      urls: urlList('AMQP', ['amqp:', 'amqps:']),
      // false: the URLs are tried in their order (a preferred node first); true: in a random order (spreads the clients).
      shuffleUrls: z.boolean().optional(),
      passwordFile,
      tls: tlsSettings,
    })
    .transform((value, ctx) => withUrlList(value, ctx, true)),
  redis: z.strictObject({
    url: urlOf('Redis', ['redis:', 'rediss:']),
    keyPrefix: z.string().min(1).max(100).regex(/^[\w:.-]+$/, {message: 'may hold letters, digits, _ : . and - only'}),
    passwordFile,
    tls: tlsSettings,
  }),
  management: z
    .strictObject({url: urlOf('HTTP', ['http:', 'https:']), urls: urlList('HTTP', ['http:', 'https:']), passwordFile})
    .transform((value, ctx) => withUrlList(value, ctx, false)),
  connectTimeout: duration,
  outbox: z.strictObject({
    table: identifier,
    columns: outboxColumns,
    statuses: z.strictObject({pending: statusValue, sent: statusValue, deadLetter: statusValue}),
    exchange: z.string().max(255).nullable(),
    routingKey: z.string().max(255).nullable(),
    /** How long sent rows are kept: outbox status counts older ones as prunable, outbox prune's default --older-than. */
    retention: positiveDuration,
    /** Every drained message carries x-msgops-drained-at (a headers table costs the broker part of its rate). */
    markDrained: z.boolean(),
  }),
  inbox: z.strictObject({
    table: identifier,
    columns: inboxColumns,
    statuses: z.strictObject({received: statusValue.nullable(), processed: statusValue, failed: statusValue}),
    /** How long a redelivered message must still be recognised as a duplicate: inbox prune refuses to go below it. */
    dedupeWindow: positiveDuration,
  }),
  orders: z.strictObject({table: identifier, columns: orderColumns}),
  cache: z.strictObject({
    keyPattern: z.string().min(1).max(200).refine((p) => p.includes('{id}'), {message: 'must contain {id}'}),
    format: z.enum(['string', 'hash', 'json']),
    field: z.string().min(1).max(100),
    onDrift: z.enum(['rewrite', 'delete']),
  }),
  audit: z.strictObject({table: identifier}),
  // AMQP field-table keys are short strings (at most 255 bytes); an empty list groups dead letters without error text.
  dlq: z.strictObject({errorHeaders: z.array(z.string().min(1).max(255))}),
  // msgops top and metrics serve: the queues to show (besides those of --topology) and when a figure turns red.
  top: z.strictObject({
    queues: z.array(z.string().min(1).max(255)),
    thresholds: z.strictObject({
      pendingAge: duration,
      deadLetterRows: z.number().int().min(1),
      dlqMessages: z.number().int().min(1),
      inboxLagP99: duration,
      reconcileFindings: z.number().int().min(1),
    }),
  }),
}

export const configSchema = z.strictObject(settings)
export type Config = z.infer<typeof configSchema>

/** The file may also hold named profiles, each a partial configuration checked like the file itself. */
export const TOP_LEVEL_KEYS = [...Object.keys(settings), 'profiles']

/** The replica URLs of mysql.replicaUrl (one or a list), in their order; none when not configured. */
export function replicaUrls(config: Config): string[] {
  const value = config.mysql.replicaUrl
  if (value === null || value === undefined) return []
  return Array.isArray(value) ? value : [value]
}
