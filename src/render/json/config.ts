import {z} from 'zod'

import type ConfigShow from '../../commands/config/show.js'
import {type Agree, type RunResult} from './common.js'

export const configShowOutput = z.strictObject({
  file: z.string().nullable().describe('the configuration file read; null: defaults, environment and flags only'),
  profile: z.string().nullable().describe('the profile used (--profile)'),
  values: z
    .array(
      z.strictObject({
        key: z.string().describe('dotted path, e.g. outbox.columns.createdAt'),
        value: z.unknown().describe('the effective value (text, number, null, or a list of text); passwords in URLs masked'),
        source: z.enum(['default', 'file', 'profile', 'env', 'flag']),
      }),
    )
    .describe('every setting, one per leaf of the configuration'),
})

// Compile-time: the schema describes exactly what config show's run() returns.
true satisfies Agree<z.output<typeof configShowOutput>, RunResult<typeof ConfigShow>>
