import {z} from 'zod'

import type Audit from '../../commands/audit/index.js'
import type AuditShow from '../../commands/audit/show.js'
import {type Agree, isoTime, notFound, type RunResult} from './common.js'

const record = z.strictObject({
  id: z.string(),
  at: isoTime('when the run was recorded'),
  osUser: z.string(),
  host: z.string(),
  command: z.string().describe('the command, topics separated by a space: "outbox drain"'),
  arguments: z.array(z.string()).describe('its arguments, secrets masked'),
  outcome: z.record(z.string(), z.unknown()).describe('what the run recorded it did; its fields are the command\'s own'),
  exitCode: z.number().int().describe('0 ok, 1 found something or left something behind, 2 error, 129/130/143 interrupted'),
})

export const auditOutput = z.strictObject({
  records: z.array(record).describe('newest first'),
  next: z.string().optional().describe('the --before value of the next page, when there may be one'),
})

export const auditShowOutput = z.union([record, notFound])

// Compile-time: each schema describes exactly what its command's run() returns.
true satisfies Agree<z.output<typeof auditOutput>, RunResult<typeof Audit>>
true satisfies Agree<z.output<typeof auditShowOutput>, RunResult<typeof AuditShow>>
