import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type CliResult, runCli} from '../helpers/env.js'
import {type BadInput, badInputs, SECRET} from './helpers/corpus.js'
import {createWorld, figure, type World} from './helpers/setup.js'

const CONCURRENCY = 4
const cases = badInputs()

let world: World
let dir: string
const results = new Map<BadInput, CliResult>()
let seconds = 0

/** Runs every case through the real CLI, CONCURRENCY at a time; each spawn is bounded by its own timeout. */
async function runAll(): Promise<void> {
  const started = Date.now()
  let next = 0
  const worker = async () => {
    while (next < cases.length) {
      const index = next++
      const c = cases[index]
      const caseDir = join(dir, String(index))
      mkdirSync(caseDir, {recursive: true})
      for (const [name, text] of Object.entries(c.files ?? {})) writeFileSync(join(caseDir, name), text, name.includes('latin') ? 'latin1' : 'utf8')
      const args = c.args.map((a) => a.replaceAll('{dir}', caseDir))
      // Services point at this file's own database, vhost and prefix: an input wrongly accepted would run for real and be caught.
      results.set(c, await runCli(args, {env: {...world.env, ...c.env}, cwd: caseDir, timeoutMs: 60_000}))
    }
  }
  await Promise.all(Array.from({length: CONCURRENCY}, worker))
  seconds = (Date.now() - started) / 1000
}

beforeAll(async () => {
  world = await createWorld('rel_bad')
  await world.channel.assertQueue('work.dlq', {durable: true})
  dir = mkdtempSync(join(tmpdir(), 'msgops-rel-bad-'))
  await runAll()
  const byCategory: Record<string, number> = {}
  for (const c of cases) byCategory[c.category] = (byCategory[c.category] ?? 0) + 1
  figure('bad-input', {cases: cases.length, concurrency: CONCURRENCY, seconds: Math.round(seconds), byCategory})
}, 600_000)

afterAll(async () => {
  await world?.cleanup()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe(`a corpus of ${cases.length} bad inputs through the real CLI`, () => {
  it('has at least 200 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(200)
  })

  for (const c of cases)
    it(`[${c.category}] ${c.name}: exit 2, one line, no stack, no secret`, () => {
      const r = results.get(c)!
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '')
      const context = `args: ${JSON.stringify(c.args)}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`
      expect(r.code, context).toBe(2)
      expect(lines, context).toHaveLength(1)
      expect(lines[0]).toMatch(/^Error: \S/)
      // Human mode: nothing on stdout. --json: the error as JSON on stdout, for scripts.
      if (c.args.includes('--json')) expect((JSON.parse(r.stdout) as {error: {exitCode: number}}).error.exitCode).toBe(2)
      else expect(r.stdout, context).toBe('')
      for (const out of [r.stdout, r.stderr]) {
        expect(out).not.toContain('    at ')
        expect(out).not.toContain(SECRET)
        expect(out).not.toContain(encodeURIComponent(SECRET))
      }
      if (c.mentions) expect(lines[0]).toContain(c.mentions)
    })
})
