import type {Reporter, SerializedError, TestModule, TestRunEndReason} from 'vitest/node'

/** The parts of vitest's TestModule, TestSuite and TestCase the summary reads (a fake of them is enough to test it). */
export interface SuiteLike {
  readonly type: 'module' | 'suite'
  errors(): ReadonlyArray<unknown>
  readonly parent?: SuiteLike
}
export interface TestLike {
  readonly options: {readonly mode: string}
  readonly parent: SuiteLike
  result(): {readonly state: string}
}
export interface ModuleLike extends SuiteLike {
  readonly type: 'module'
  readonly children: {allTests(): Iterable<TestLike>}
}

export interface Summary {
  passed: number
  failed: number
  skipped: number
  /** Files with an error outside any test, by what it stopped: loading (no tests collected), setup, or neither (teardown). */
  files: {load: number; setup: number; teardown: number}
  unhandledErrors: number
}

function setupFailed(test: TestLike): boolean {
  for (let suite: SuiteLike | undefined = test.parent; suite; suite = suite.type === 'module' ? undefined : suite.parent) if (suite.errors().length > 0) return true
  return false
}

/**
 * Counts tests so that a file that could not run is never hidden among the skipped. vitest 4 reports the tests of
 * a file (or describe) whose beforeAll threw as skipped, and a file that failed to import has no tests at all.
 *
 * | test result | an enclosing describe or the file has an error | declared mode     | counted as                 |
 * | ----------- | ---------------------------------------------- | ----------------- | -------------------------- |
 * | passed      | any                                            | any               | passed                     |
 * | failed      | any                                            | any               | failed                     |
 * | skipped     | yes                                            | run / only        | failed (setup failed)      |
 * | skipped     | any                                            | skip / todo       | skipped                    |
 * | skipped     | no                                             | run / only        | skipped (ctx.skip, filter) |
 * | pending     | any                                            | any               | skipped (never finished)   |
 *
 * | file with an error outside tests  | files.           | adds to failed                              |
 * | --------------------------------- | ---------------- | ------------------------------------------- |
 * | no tests collected                | load             | 1                                           |
 * | some tests counted failed above   | setup            | 0 (its tests already are)                   |
 * | tests ran, none counted failed    | teardown         | 1 (an afterAll threw: the run fails anyway) |
 */
export function summarize(modules: Iterable<ModuleLike>, unhandledErrors = 0): Summary {
  const summary: Summary = {passed: 0, failed: 0, skipped: 0, files: {load: 0, setup: 0, teardown: 0}, unhandledErrors}
  for (const module of modules) {
    let tests = 0
    let notRun = 0
    for (const test of module.children.allTests()) {
      tests++
      const state = test.result().state
      if (state === 'passed') summary.passed++
      else if (state === 'failed') summary.failed++
      else if (state === 'skipped' && (test.options.mode === 'run' || test.options.mode === 'only') && setupFailed(test)) {
        summary.failed++
        notRun++
      } else summary.skipped++
    }
    if (module.errors().length === 0) continue
    if (tests === 0) {
      summary.files.load++
      summary.failed++
    } else if (notRun > 0) summary.files.setup++
    else {
      summary.files.teardown++
      summary.failed++
    }
  }
  return summary
}

const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`

/** `Tests: 240 passed, 70 failed (8 files failed to set up), 0 skipped`. */
export function summaryLine(s: Summary): string {
  const why = [
    s.files.setup > 0 ? `${files(s.files.setup)} failed to set up` : '',
    s.files.load > 0 ? `${files(s.files.load)} failed to load` : '',
    s.files.teardown > 0 ? `${files(s.files.teardown)} failed in teardown` : '',
  ].filter(Boolean)
  const unhandled = s.unhandledErrors > 0 ? `; ${s.unhandledErrors} unhandled error${s.unhandledErrors === 1 ? '' : 's'}` : ''
  return `Tests: ${s.passed} passed, ${s.failed} failed${why.length > 0 ? ` (${why.join(', ')})` : ''}, ${s.skipped} skipped${unhandled}`
}

/** Ends the run with one plain line, `Tests: N passed, N failed, N skipped`, that any CI can read. */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    const line = summaryLine(summarize(modules, unhandledErrors.length))
    process.stdout.write(`\n${line}${reason === 'interrupted' ? '; interrupted' : ''}\n`)
  }
}
