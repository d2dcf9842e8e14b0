/**
 * What a run that did not fail came to, and its exit code: decided here and nowhere else (failures: errors.ts).
 *
 * | outcome     | exit | when                                                                              |
 * | ----------- | ---- | --------------------------------------------------------------------------------- |
 * | ok          | 0    | everything asked was done and nothing needs attention (a --fix that fixed it all) |
 * | cancelled   | 0    | the person declined the confirmation: nothing was changed                         |
 * | found       | 1    | the command worked and found something: discrepancies, a threshold, a failed check |
 * | partial     | 1    | a change was done in part: rows or messages left behind (returned, skipped)        |
 * | interrupted | 130  | SIGINT stopped it at a safe point (SIGTERM 143, SIGHUP 129: 128 + the signal)    |
 */
export type Outcome = 'ok' | 'cancelled' | 'found' | 'partial' | 'interrupted'

export const OUTCOME_EXIT: Record<Outcome, number> = {ok: 0, cancelled: 0, found: 1, partial: 1, interrupted: 130}

/** found when something was found, ok otherwise: the reading commands' rule. */
export function foundIf(something: boolean): Outcome {
  return something ? 'found' : 'ok'
}

/** The outcome of a change: interrupted wins, then cancelled, then partial when anything was left behind. */
export function changeOutcome(result: {cancelled?: boolean; interrupted?: boolean}, leftBehind: boolean): Outcome {
  if (result.interrupted) return 'interrupted'
  if (result.cancelled) return 'cancelled'
  return leftBehind ? 'partial' : 'ok'
}
