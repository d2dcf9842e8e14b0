import {z} from 'zod'

import type TraceCommand from '../../commands/trace.js'
import {type Agree, count, type RunResult} from './common.js'

const time = (what: string) => z.string().nullable().describe(`${what}: ISO 8601; null when unknown or not mapped`)
const age = (what: string) => z.number().nullable().describe(`${what}, in milliseconds by the database's clock; null when unknown`)
const unknown = z.array(z.string()).describe('the columns the mapping does not have: their values are unknown, never guessed')

const order = z.strictObject({
  id: z.string(), status: z.string().nullable(), messageId: z.string().nullable(), createdAt: time('created'), updatedAt: time('updated'),
  ageMs: age('since the last update (else the creation)'), unknown,
})

const outbox = z.strictObject({
  id: z.string(), state: z.enum(['pending', 'sent', 'dead-letter', 'other']), status: z.string().describe('as stored'),
  aggregateId: z.string().nullable(), eventType: z.string().nullable(), exchange: z.string().nullable(), routingKey: z.string().nullable(),
  attempts: z.number().int().nullable(), lastError: z.string().nullable(),
  createdAt: time('created'), availableAt: time('available'), sentAt: time('sent'), ageMs: age('since created'), sentAgeMs: age('since sent'), unknown,
})

const inbox = z.strictObject({
  messageId: z.string(), consumer: z.string().nullable().describe('null when the inbox has no consumer column'),
  state: z.enum(['processed', 'failed', 'received', 'other']), status: z.string(), attempts: z.number().int().nullable(), lastError: z.string().nullable(),
  receivedAt: time('received'), processedAt: time('processed'), ageMs: age('since received'), unknown,
})

const audit = z.strictObject({
  auditId: z.string(), at: z.string(), command: z.string(), action: z.string().describe('what the run did to this id: drain, drain:returned, requeue, replay, reconcile:cache_drift…'),
  about: z.string().describe('the id it was recorded for'), exitCode: z.number().int(), osUser: z.string(), host: z.string(),
  recorded: z.boolean().describe('false: the run touched more ids than it recorded, so it may have touched this one'),
})

const cache = z.strictObject({
  state: z.enum(['equal', 'missing', 'different', 'unreadable', 'unknown']), key: z.string().nullable(), value: z.string().nullable(),
  expected: z.string().nullable().describe("the order's status, which the cache should hold"), reason: z.string().optional(),
})

const broker = z.strictObject({
  queues: z.array(z.strictObject({queue: z.string(), messages: count, consumers: count})).nullable().describe('the destination queues (management API); null when unknown'),
  deadLetterQueues: z.array(z.string()),
  dlq: z.strictObject({
    state: z.enum(['found', 'absent', 'partial', 'not_read']), why: z.string().optional(), read: count,
    found: z.array(z.strictObject({messageId: z.string(), queue: z.string(), reason: z.string(), from: z.string(), at: z.string().nullable(), deaths: count, error: z.string().nullable()})),
  }),
  notes: z.array(z.string()),
})

const STATES = ['consistent', 'in_flight', 'no_message', 'no_order', 'dead_letter', 'stuck', 'dead_lettered', 'not_consumed', 'consume_failed', 'cache_missing', 'cache_different', 'cache_unreadable', 'unknown', 'not_found'] as const

const trace = z.strictObject({
  id: z.string(),
  kind: z.enum(['order', 'message', 'none']),
  order: order.nullable(),
  outbox: z.array(outbox),
  audit: z.array(audit),
  inbox: z.array(inbox).describe('one record per consumer'),
  cache,
  broker,
  timeline: z.array(z.strictObject({
    at: z.string().nullable(),
    event: z.enum(['committed', 'order updated', 'audit', 'sent', 'dead-lettered', 'received', 'consumed', 'consume failed', 'cached']),
    detail: z.string(),
  })).describe('sorted by time; steps without a time last'),
  verdict: z.strictObject({state: z.enum(STATES), text: z.string()}),
  repair: z.array(z.string()).describe('the commands that repair it; trace itself changes nothing'),
  notes: z.array(z.string()),
})

export const traceOutput = z.union([
  trace,
  z.strictObject({traces: z.array(trace), total: count, counts: z.partialRecord(z.enum(STATES), count).describe('ids per verdict state')}),
])

true satisfies Agree<z.output<typeof traceOutput>, RunResult<typeof TraceCommand>>
