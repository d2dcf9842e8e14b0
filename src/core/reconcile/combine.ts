import {UsageError} from '../errors.js'
import type {Outcome} from '../outcome.js'
import type {CheckName} from './checks.js'
import {type FixableCheck, type FixReport, type FixResult, reconcileOutcome} from './fix.js'
import {addResults, type CheckResult, type ReconcileReport} from './report.js'

/** One part's --json document, as read from its file. */
export interface PartFile {
  file: string
  report: ReconcileReport & {fixes?: FixReport}
}

/** The parts of one run joined: the whole run's report, and what each part contributed. */
export interface CombinedReport extends Omit<ReconcileReport, 'part' | 'chunks' | 'replica'> {
  run: string
  parts: {index: number; count: number; file: string; total: number; durationMs: number}[]
  fixes?: FixReport
}

/**
 * Checks that the files are the N parts of one run, each once: every refusal names the file or the part.
 *
 * | the files                                          | result                                  |
 * | -------------------------------------------------- | --------------------------------------- |
 * | one without a part (a whole run, another command)  | refused: "FILE is not a part …"         |
 * | parts of different runs or counts                  | refused: "… of run A, FILE of run B"    |
 * | a part twice                                       | refused: "part 2/4 is given twice …"    |
 * | a part missing                                     | refused: "part 3/4 is missing"          |
 * | parts 1..N, each once                              | their order by index                    |
 */
export function checkParts(files: PartFile[]): PartFile[] {
  if (files.length === 0) throw new UsageError('no part files given', 'pass the --json output of every part: msgops reconcile merge part-1.json part-2.json …')
  for (const f of files)
    if (!f.report.part) throw new UsageError(`${f.file} is not a part's report (it has no "part")`, 'give the --json output of reconcile --part I/N (or --parts N), one file per part')
  const first = files[0]
  const {run, count} = first.report.part!
  for (const f of files) {
    const p = f.report.part!
    if (p.run !== run || p.count !== count)
      throw new UsageError(`${first.file} is part of run ${run} (${count} parts), ${f.file} of run ${p.run} (${p.count} parts)`, 'join the parts of one run only: they share its window and cuts')
  }
  const byIndex = new Map<number, PartFile>()
  for (const f of files) {
    const index = f.report.part!.index
    const seen = byIndex.get(index)
    if (seen) throw new UsageError(`part ${index}/${count} is given twice (${seen.file}, ${f.file})`, 'give each part once')
    byIndex.set(index, f)
  }
  const missing = Array.from({length: count}, (_v, n) => n + 1).filter((n) => !byIndex.has(n))
  if (missing.length > 0)
    throw new UsageError(`part${missing.length > 1 ? 's' : ''} ${missing.map((n) => `${n}/${count}`).join(', ')} of run ${run} ${missing.length > 1 ? 'are' : 'is'} missing`, 'run the missing parts (their --json) and give every part')
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f)
}

/** The fixes of the parts added up, check by check (the first ids of each, up to 20). */
function addFixes(parts: PartFile[]): FixReport | undefined {
  const withFixes = parts.filter((p) => p.report.fixes)
  if (withFixes.length === 0) return undefined
  const out: FixReport = {dryRun: withFixes.some((p) => p.report.fixes!.dryRun), interrupted: withFixes.some((p) => p.report.fixes!.interrupted), checks: {}}
  for (const p of withFixes)
    for (const [check, fix] of Object.entries(p.report.fixes!.checks) as [FixableCheck, FixResult][]) {
      const into = out.checks[check]
      if (!into) out.checks[check] = {...fix, ids: fix.ids.slice(0, 20)}
      else {
        into.fixed += fix.fixed
        into.notFixed += fix.notFixed
        into.ids = [...into.ids, ...fix.ids].slice(0, 20)
        into.note ??= fix.note
      }
    }
  return out
}

/**
 * The parts of one run as the whole run's report: counts added, the oldest finding and samples of all (up to `sample`
 * per check, by time then id), the merged checks of any part, the longest part's duration (they ran side by side or
 * one after another: the sum is in each part's entry), and the outcome (exit code) the whole run would have had.
 */
export function combineParts(files: PartFile[], sample: number): {report: CombinedReport; outcome: Outcome} {
  const parts = checkParts(files)
  const checks: Partial<Record<CheckName, CheckResult>> = {}
  for (const p of parts)
    for (const [check, result] of Object.entries(p.report.checks) as [CheckName, CheckResult][]) checks[check] = addResults(checks[check], result, sample)
  const merged = [...new Set(parts.flatMap((p) => p.report.merged))]
  const fixes = addFixes(parts)
  const report: CombinedReport = {
    window: parts[0].report.window,
    checks,
    merged,
    total: Object.values(checks).reduce((sum, r) => sum + (r?.count ?? 0), 0),
    durationMs: Math.max(...parts.map((p) => p.report.durationMs)),
    pausedMs: parts.reduce((sum, p) => sum + (p.report.pausedMs ?? 0), 0),
    run: parts[0].report.part!.run,
    parts: parts.map((p) => ({index: p.report.part!.index, count: p.report.part!.count, file: p.file, total: p.report.total, durationMs: p.report.durationMs})),
    ...(fixes ? {fixes} : {}),
  }
  return {report, outcome: reconcileOutcome(report, fixes, fixes !== undefined && !fixes.dryRun)}
}
