import {z} from 'zod'

import type SchemaInit from '../../commands/schema/init.js'
import {type Agree, type RunResult} from './common.js'

export const schemaInitOutput = z.strictObject({
  statements: z.array(z.string()).describe('the DDL of the reference tables, one CREATE TABLE IF NOT EXISTS each (no trailing semicolon); with --print it was not run, and created and existing are empty'),
  created: z.array(z.string()).describe('tables created'),
  existing: z.array(z.string()).describe('tables that existed and were left as they are'),
})

// Compile-time: the schema describes exactly what schema init's run() returns.
true satisfies Agree<z.output<typeof schemaInitOutput>, RunResult<typeof SchemaInit>>
