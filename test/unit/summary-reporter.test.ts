import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {type ModuleLike, type SuiteLike, summarize, summaryLine, type TestLike} from '../helpers/summary-reporter.js'

/** A fake of vitest's TestModule: suites as nested arrays, tests as [state, mode]. */
type Spec = {errors?: number; tests?: [string, string?][]; suites?: Spec[]}
function fakeModule(spec: Spec): ModuleLike {
  const all: TestLike[] = []
  const build = (s: Spec, suite: SuiteLike) => {
    for (const [state, mode = 'run'] of s.tests ?? []) all.push({options: {mode}, parent: suite, result: () => ({state})})
    for (const child of s.suites ?? []) build(child, {type: 'suite', parent: suite, errors: () => Array.from({length: child.errors ?? 0}, () => ({}))})
  }
  const module: ModuleLike = {type: 'module', errors: () => Array.from({length: spec.errors ?? 0}, () => ({})), children: {allTests: () => all}}
  build(spec, module)
  return module
}

describe('summary reporter: tests', () => {
  it('passed counts as passed, whatever else', () => {
    expect(summarize([fakeModule({tests: [['passed']]})])).toMatchObject({passed: 1, failed: 0, skipped: 0})
  })
  it('failed counts as failed', () => {
    expect(summarize([fakeModule({tests: [['failed']]})])).toMatchObject({passed: 0, failed: 1, skipped: 0})
  })
  it('skipped under a file whose beforeAll threw counts as failed, the file as failed to set up', () => {
    const s = summarize([fakeModule({errors: 1, tests: [['skipped'], ['skipped', 'only']]})])
    expect(s).toMatchObject({passed: 0, failed: 2, skipped: 0, files: {load: 0, setup: 1, teardown: 0}})
  })
  it('skipped under a describe whose beforeAll threw counts as failed; its neighbours are unaffected', () => {
    const s = summarize([fakeModule({tests: [['passed'], ['skipped']], suites: [{errors: 1, tests: [['skipped']], suites: [{tests: [['skipped']]}]}]})])
    expect(s).toMatchObject({passed: 1, failed: 2, skipped: 1})
  })
  it('declared skip or todo stays skipped, even under a failed setup', () => {
    expect(summarize([fakeModule({errors: 1, tests: [['skipped', 'skip'], ['skipped', 'todo'], ['skipped']]})])).toMatchObject({failed: 1, skipped: 2})
  })
  it('skipped with nothing failed around it (ctx.skip, a filter) stays skipped', () => {
    expect(summarize([fakeModule({tests: [['skipped']]})])).toMatchObject({failed: 0, skipped: 1})
  })
  it('pending (never finished) counts as skipped', () => {
    expect(summarize([fakeModule({tests: [['pending']]})])).toMatchObject({failed: 0, skipped: 1})
  })
})

describe('summary reporter: files', () => {
  it('a file with an error and no tests failed to load and counts one failed', () => {
    expect(summarize([fakeModule({errors: 1})])).toMatchObject({failed: 1, files: {load: 1, setup: 0, teardown: 0}})
  })
  it('a file whose tests were counted failed for its error adds nothing more', () => {
    expect(summarize([fakeModule({errors: 1, tests: [['skipped'], ['skipped']]})])).toMatchObject({failed: 2, files: {setup: 1}})
  })
  it('a file whose tests all ran but which has an error (afterAll threw) counts one failed', () => {
    expect(summarize([fakeModule({errors: 1, tests: [['passed']]})])).toMatchObject({passed: 1, failed: 1, files: {load: 0, setup: 0, teardown: 1}})
  })
  it('says in the line why tests failed that never ran', () => {
    const modules = [...Array.from({length: 8}, () => fakeModule({errors: 1, tests: [['skipped'], ['skipped']]})), fakeModule({tests: [['passed'], ['passed']]})]
    expect(summaryLine(summarize(modules))).toBe('Tests: 2 passed, 16 failed (8 files failed to set up), 0 skipped')
    expect(summaryLine(summarize([fakeModule({errors: 1}), fakeModule({tests: [['passed'], ['skipped', 'skip']]})], 2))).toBe('Tests: 1 passed, 1 failed (1 file failed to load), 1 skipped; 2 unhandled errors')
    expect(summaryLine(summarize([fakeModule({tests: [['passed']]})]))).toBe('Tests: 1 passed, 0 failed, 0 skipped')
  })
})

describe('summary reporter under vitest', () => {
  it('counts a file whose beforeAll threw and a file that failed to import as failed', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const dir = mkdtempSync(join(tmpdir(), 'msgops-reporter-'))
    try {
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
      writeFileSync(join(dir, 'ok.test.ts'), "import {it} from 'vitest'\nit('a', () => {})\nit.skip('s', () => {})\n")
      writeFileSync(join(dir, 'setup.test.ts'), "import {beforeAll, describe, it} from 'vitest'\nbeforeAll(() => { throw new Error('no broker') })\nit('x', () => {})\ndescribe('d', () => { it('y', () => {}) })\n")
      writeFileSync(join(dir, 'load.test.ts'), "import './missing.js'\nimport {it} from 'vitest'\nit('never', () => {})\n")
      const reporter = join(root, 'test/helpers/summary-reporter.ts')
      writeFileSync(join(dir, 'vitest.config.ts'), `export default {test: {include: ['*.test.ts'], reporters: [${JSON.stringify(reporter)}]}}\n`)
      const run = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir], {cwd: dir, encoding: 'utf8', timeout: 60_000})
      expect(run.status, run.stderr).toBe(1)
      expect(run.stdout.trim().split('\n').at(-1)).toBe('Tests: 1 passed, 3 failed (1 file failed to set up, 1 file failed to load), 1 skipped')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
