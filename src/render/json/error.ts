import {z} from 'zod'

import type {ErrorKind} from '../../core/errors.js'
import {type Agree} from './common.js'

const KINDS = ['usage', 'config', 'connection', 'lock', 'operation', 'interrupted', 'internal'] as const

/** What every command prints to stdout with --json when it fails (BaseCommand.catch), whatever its own output is. */
export const errorOutput = z
  .strictObject({
    error: z.strictObject({
      kind: z.enum(KINDS).describe('usage, config, connection, lock (another run holds it), operation (could not finish), interrupted, or internal (a bug)'),
      message: z.string().describe('one line, secrets masked'),
      suggestion: z.string().optional().describe('what to do about it'),
      exitCode: z.number().int().describe('the exit code: 2 for an error, 130/143/129 when interrupted by SIGINT/SIGTERM/SIGHUP'),
    }),
    result: z.unknown().optional().describe("what the command found before it failed, in the shape of its own output (doctor's checks)"),
  })
  .describe('the output of any command that failed')

// Compile-time: the kinds are the core's error kinds plus 'internal'.
true satisfies Agree<(typeof KINDS)[number], ErrorKind | 'internal'>
