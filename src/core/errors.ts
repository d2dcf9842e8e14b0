/**
 * One error type per kind of failure, each with a message and a suggested action.
 * The exit code of every failure is decided here and nowhere else.
 *
 * | error                | exit | when                                                     |
 * | -------------------- | ---- | -------------------------------------------------------- |
 * | UsageError           | 2    | a flag, argument or duration is wrong                    |
 * | ConfigError          | 2    | the configuration file, env or a key in it is wrong      |
 * | ConnectionError      | 2    | a service is unreachable, refuses us or times out        |
 * | LockHeldError        | 2    | another run holds the lock                               |
 * | OperationError       | 2    | the command could not finish (broker closed, SQL failed) |
 * | InterruptedError     | 130  | SIGINT                                                   |
 * | anything else        | 2    | a bug: shown as one line, the stack with --verbose       |
 */
export type ErrorKind = 'usage' | 'config' | 'connection' | 'lock' | 'operation' | 'interrupted'

export class MsgopsError extends Error {
  readonly kind: ErrorKind
  readonly suggestion?: string
  /** What the command found before it failed, for --json users (doctor's rows). */
  result?: unknown

  constructor(kind: ErrorKind, message: string, suggestion?: string, options?: {cause?: unknown}) {
    super(message, options)
    this.name = new.target.name
    this.kind = kind
    this.suggestion = suggestion
  }
}

export class UsageError extends MsgopsError {
  constructor(message: string, suggestion?: string) {
    super('usage', message, suggestion)
  }
}

export class ConfigError extends MsgopsError {
  constructor(message: string, suggestion?: string) {
    super('config', message, suggestion)
  }
}

export class ConnectionError extends MsgopsError {
  readonly service: string
  constructor(service: string, message: string, suggestion?: string, cause?: unknown) {
    super('connection', message, suggestion, {cause})
    this.service = service
  }
}

export class LockHeldError extends MsgopsError {
  constructor(message: string, suggestion?: string) {
    super('lock', message, suggestion)
  }
}

export class OperationError extends MsgopsError {
  constructor(message: string, suggestion?: string, cause?: unknown) {
    super('operation', message, suggestion, {cause})
  }
}

export class InterruptedError extends MsgopsError {
  constructor(message = 'interrupted') {
    super('interrupted', message)
  }
}

export const EXIT = {ok: 0, found: 1, error: 2, interrupted: 130} as const

export function exitCodeFor(error: unknown): number {
  if (error instanceof MsgopsError) return error.kind === 'interrupted' ? EXIT.interrupted : EXIT.error
  return EXIT.error
}

/** Error text on one line: newlines from drivers would break cron mail and log parsers. */
export function oneLine(text: string): string {
  return text.replaceAll(/\s*\n\s*/g, ' ').trim()
}

/** The error, carrying what the command found before it (shown as `result` in --json output). */
export function withResult<E extends MsgopsError>(error: E, result: unknown): E {
  error.result = result
  return error
}
