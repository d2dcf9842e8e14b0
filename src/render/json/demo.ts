import {z} from 'zod'

import type Demo from '../../commands/demo.js'
import {FAULT_KINDS} from '../../core/demo/faults.js'
import {type Agree, count, keyed, type RunResult} from './common.js'

const report = z.strictObject({
  orders: count.describe('orders created (0 with --consume-only)'),
  seed: z.number().int(),
  faultRate: z.number().nonnegative().describe('rate of each kind of fault (--fault-rate)'),
  published: count.describe('outbox rows the relay published'),
  consumed: count.describe('messages the consumer processed'),
  injected: z
    .strictObject({
      message_stuck: count,
      order_without_message: count,
      sent_not_consumed: count,
      consumed_failed: count,
      cache_drift: count,
      duplicates_discarded: count,
      dead_lettered: count,
    })
    .describe('what reconcile (by check name) and dlq inspect should find, plus the duplicates the inbox discarded'),
  faults: keyed(FAULT_KINDS, count).describe('the same by fault, as injected'),
  reset: z
    .array(z.strictObject({queue: z.string(), removed: count.describe("the earlier demo's messages taken out"), kept: count.describe('other messages, left in the queue in their order')}))
    .optional()
    .describe('with --reset'),
  seconds: z.number().nonnegative().describe('time the run took, in seconds (one decimal)'),
})

export const demoOutput = z.union([report, z.strictObject({cancelled: z.literal(true)}).describe('the person declined the confirmation')])

// Compile-time: the schema describes exactly what demo's run() returns.
true satisfies Agree<z.output<typeof demoOutput>, RunResult<typeof Demo>>
