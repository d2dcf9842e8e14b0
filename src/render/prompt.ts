import {InterruptedError, UsageError} from '../core/errors.js'

export interface ConfirmOptions {
  /** What will change and where, as a question: "Publish about 1,204 pending rows from MySQL db:3306/shop to …?" */
  question: string
  /** --yes was given. */
  yes: boolean
  /** --json: stdout is data, so there is no room to ask even on a terminal. */
  json?: boolean
}

export function isInteractive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true
}

/**
 * Refuses a change that nobody can confirm: no --yes and no terminal (cron), or --json. Called before the prompt,
 * and by commands that would otherwise refuse only after a long scan.
 */
export function requireConfirmable(options: {yes: boolean; json?: boolean}): void {
  if (options.yes) return
  if (options.json) throw new UsageError('this command changes state and --json leaves no room to ask', 'pass --yes to confirm, or --dry-run to see what it would do')
  if (!isInteractive()) throw new UsageError('this command changes state and there is no terminal to confirm on', 'pass --yes to confirm, or --dry-run to see what it would do')
}

/**
 * The one place msgops asks a person. With --yes it does not ask; with no terminal and no --yes it refuses,
 * because a cron job must never hang on a prompt nor change state unconfirmed.
 */
export async function confirmChange(options: ConfirmOptions): Promise<boolean> {
  requireConfirmable(options)
  if (options.yes) return true
  try {
    // Loaded only when a person is asked: cron runs (--yes, --json) do not pay for it.
    const {confirm} = await import('@inquirer/prompts')
    return await confirm({message: options.question, default: false}, {output: process.stderr})
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError') throw new InterruptedError()
    throw error
  }
}
