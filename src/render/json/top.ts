import {z} from 'zod'

import type MetricsServe from '../../commands/metrics/serve.js'
import type Top from '../../commands/top.js'
import {type Agree, count, type RunResult} from './common.js'

/** A part of the snapshot: its state, its data when it has some, when it was read. */
function part<T extends z.ZodType>(data: T) {
  return z.strictObject({
    state: z.enum(['ok', 'stale', 'unreachable', 'absent']).describe('ok: read now; stale: the last good read; unreachable: none yet; absent: nothing to read'),
    data: data.nullable(),
    readAt: z.string().nullable().describe('when data was read, ISO 8601'),
    error: z.string().optional().describe('why it is stale, unreachable or absent'),
    tookMs: z.number().nonnegative().describe('how long this read took (or waited), in milliseconds'),
  })
}

const flows = z.strictObject({publish: z.number(), deliver: z.number(), ack: z.number()})

const outbox = z.strictObject({
  table: z.string(),
  counts: z.record(z.string(), count).describe('rows per status'),
  approximate: z.array(z.string()).describe('figures past the exact-count cap: a status name (estimated), or "≥" and a status name, "sent 1m", "stuck" (a lower bound)'),
  oldestPendingAgeMs: z.number().nullable(),
  stuck: count.nullable(),
  stuckAfterMs: z.number(),
  sentLastMinute: count.nullable(),
  failureGroups: z.array(z.strictObject({key: z.string(), count, sample: z.string()})).nullable(),
  failureGroupsOf: count,
})

const broker = z.strictObject({
  vhost: z.string(),
  via: z.enum(['management', 'amqp']),
  queues: z.array(z.strictObject({
    name: z.string(), deadLetter: z.boolean(), exists: z.boolean(), ready: count, unacked: count.nullable(), consumers: count,
    rates: flows.nullable().describe('messages per second'), totals: flows.nullable(), messages: count, change: z.number().int().nullable(),
  })),
  alarms: z.array(z.strictObject({node: z.string(), memory: z.boolean(), disk: z.boolean()})).nullable(),
  blockedConnections: count.nullable(),
})

const inbox = z.strictObject({
  table: z.string(), receivedLastMinute: count, failed: count, failedApproximate: z.boolean(),
  lag: z.strictObject({p50Ms: z.number(), p99Ms: z.number(), of: count}).nullable().describe('received → processed over the newest records'),
})

const run = z.strictObject({
  id: z.string(), at: z.string(), exitCode: z.number().int(), durationMs: z.number().nullable(), findings: z.record(z.string(), count), total: count, host: z.string(),
  error: z.string().optional(),
})

const locks = z.strictObject({
  locks: z.array(z.strictObject({name: z.string(), host: z.string().nullable(), pid: z.number().int().nullable(), since: z.string().nullable(), command: z.string().nullable(), ttlMs: z.number().nullable()})),
})

export const topOutput = z.strictObject({
  at: z.string().describe('when the snapshot was taken, ISO 8601'),
  tookMs: z.number().nonnegative(),
  outbox: part(outbox),
  broker: part(broker),
  inbox: part(inbox),
  reconcile: part(z.strictObject({last: run.nullable(), lastSuccess: run.nullable()})),
  locks: part(locks),
  alerts: z.array(z.string()).describe('the thresholds breached (exit 1)'),
}).optional().describe('one snapshot (--once, --json or no terminal); nothing for the live screen')

export const metricsServeOutput = z.strictObject({listened: z.string().describe('the address it served on until it was stopped')})

true satisfies Agree<z.output<typeof topOutput>, RunResult<typeof Top>>
true satisfies Agree<z.output<typeof metricsServeOutput>, RunResult<typeof MetricsServe>>
