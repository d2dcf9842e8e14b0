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

const settings = {
  mysql: z.strictObject({url: urlOf('MySQL', ['mysql:']), passwordFile}),
  amqp: z.strictObject({url: urlOf('AMQP', ['amqp:', 'amqps:']), passwordFile}),
  redis: z.strictObject({
    url: urlOf('Redis', ['redis:', 'rediss:']),
    keyPrefix: z.string().min(1).max(100).regex(/^[\w:.-]+$/, {message: 'may hold letters, digits, _ : . and - only'}),
    passwordFile,
  }),
  management: z.strictObject({url: urlOf('HTTP', ['http:', 'https:']), passwordFile}),
  connectTimeout: duration,
  outbox: z.strictObject({
    table: identifier,
    columns: outboxColumns,
    statuses: z.strictObject({pending: statusValue, sent: statusValue, deadLetter: statusValue}),
    exchange: z.string().max(255).nullable(),
    routingKey: z.string().max(255).nullable(),
    /** Every drained message carries x-msgops-drained-at (a headers table costs the broker part of its rate). */
    markDrained: z.boolean(),
  }),
  inbox: z.strictObject({
    table: identifier,
    columns: inboxColumns,
    statuses: z.strictObject({received: statusValue.nullable(), processed: statusValue, failed: statusValue}),
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
