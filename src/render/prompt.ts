import {InterruptedError, UsageError} from '../core/errors.js'

export interface ConfirmOptions {
  /** What will change, as a question: "Publish 1,204 pending rows?" */
  question: string
  /** --yes was given. */
  yes: boolean
}

export function isInteractive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true
}

/**
 * The one place msgops asks a person. With --yes it does not ask; with no terminal and no --yes it refuses,
 * because a cron job must never hang on a prompt nor change state unconfirmed.
 */
export async function confirmChange(options: ConfirmOptions): Promise<boolean> {
  if (options.yes) return true
  if (!isInteractive())
    throw new UsageError('this command changes state and there is no terminal to confirm on', 'pass --yes to confirm, or --dry-run to see what it would do')
  try {
    // Loaded only when a person is asked: cron runs (--yes, --json) do not pay for it.
    const {confirm} = await import('@inquirer/prompts')
    return await confirm({message: options.question, default: false}, {output: process.stderr})
  } catch (error) {
    if ((error as Error).name === 'ExitPromptError') throw new InterruptedError()
    throw error
  }
}
