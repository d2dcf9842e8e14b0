import {z} from 'zod'

import type Doctor from '../../commands/doctor.js'
import {type Agree, ms, type RunResult} from './common.js'

/** One row per check; also the `result` of doctor's error when MySQL, RabbitMQ or Redis cannot be reached. */
export const doctorOutput = z
  .array(
    z.strictObject({
      name: z.string().describe('what was checked: a service, a table, a column set, an index, SKIP LOCKED'),
      ok: z.boolean(),
      detail: z.string().describe('the version and URL (password masked), what is missing and how to fix it, or the error'),
      latencyMs: ms('round trip of the service').optional().describe('round trip of a reachable service, in milliseconds'),
    }),
  )
  .describe('exit 0 when every check is ok, 1 when one is not')

// Compile-time: the schema describes exactly what doctor's run() returns.
true satisfies Agree<z.output<typeof doctorOutput>, RunResult<typeof Doctor>>
