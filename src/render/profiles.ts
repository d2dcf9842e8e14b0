import type {ProfileRun} from '../profiles.js'
import {paint} from './color.js'
import {renderTable} from './table.js'

/** What a run over several profiles prints as JSON: each profile's own output, keyed by profile, and the exit codes. */
export function profilesJson(runs: ProfileRun[]): {profiles: Record<string, unknown>; exitCodes: Record<string, number>; exitCode: number} {
  const profiles: Record<string, unknown> = {}
  const exitCodes: Record<string, number> = {}
  for (const run of runs) {
    try {
      profiles[run.profile] = JSON.parse(run.stdout)
    } catch {
      profiles[run.profile] = {error: {kind: 'internal', message: run.stderr.trim().split('\n').at(-1) ?? 'no output', exitCode: run.code}}
    }
    exitCodes[run.profile] = run.code
  }
  return {profiles, exitCodes, exitCode: Math.max(0, ...runs.map((r) => r.code))}
}

const RESULT: Record<number, string> = {0: 'ok', 1: 'found something', 2: 'error', 130: 'interrupted', 143: 'stopped (SIGTERM)'}

/** One section per profile, in order, then a summary table: profile, exit code, what happened. */
export function renderProfiles(command: string, runs: ProfileRun[]): string {
  const sections = runs.map((run) => `${paint('bold', `── ${run.profile} ──`)}\n${run.stdout.trimEnd() || paint('dim', '(no output)')}`)
  const rows = runs.map((run) => {
    const error = run.stderr.split('\n').find((l) => l.startsWith('Error: '))
    const text = run.code >= 2 && error ? error.slice(7) : RESULT[run.code] ?? `exit ${run.code}`
    return [run.profile, run.code === 0 ? paint('green', '0') : paint(run.code === 1 ? 'yellow' : 'red', String(run.code)), text]
  })
  return `${sections.join('\n\n')}\n\n${paint('bold', `msgops ${command} over ${runs.length} profiles`)}\n${renderTable(['profile', 'exit', 'result'], rows, {shrink: [2]})}`
}
