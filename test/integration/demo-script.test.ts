import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, cliProcessEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let env: Record<string, string>
let dir: string

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase(), createTestVhost(), createTestRedis()] as const)
  dir = mkdtempSync(join(tmpdir(), 'msgops-demo-sh-'))
  const config = join(dir, 'msgops.yaml')
  writeFileSync(config, `cache:\n  keyPattern: "${redis.prefix}order:{id}"\n`)
  env = {...cliEnv({db, vhost, redis}), MSGOPS_CONFIG: config}
})

afterAll(async () => {
  if (dir) rmSync(dir, {recursive: true, force: true})
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
})

/** README's `npm run demo` (scripts/demo.sh, which passes ARGS to `msgops demo`), on the test's own services. */
function npmRunDemo(args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  const childEnv = cliProcessEnv(env)
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'demo', '--', ...args], {env: childEnv, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout: stdout.replaceAll(/\u001B\[[\d;]*m/g, ''), stderr})
    })
  })
}

describe('npm run demo (scripts/demo.sh)', () => {
  it('runs its four steps and exits 0, though dlq inspect and reconcile exit 1 on what the demo injected', {timeout: 300_000}, async () => {
    const run = await npmRunDemo(['--orders', '400', '--fault-rate', '0.02'])
    const context = `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`
    expect(run.code, context).toBe(0)
    const out = run.stdout
    const steps = ['$ msgops demo --reset --yes --orders 400 --fault-rate 0.02', '$ msgops outbox status', '$ msgops dlq inspect order_queue.dlq', '$ msgops reconcile']
    const at = steps.map((s) => out.indexOf(s))
    for (const [i, s] of steps.entries()) expect(at[i], `step "${s}" missing\n${context}`).toBeGreaterThanOrEqual(0)
    expect([...at].sort((a, b) => a - b)).toEqual(at)
    // What each step printed, between its heading and the next one.
    const section = (i: number) => out.slice(at[i], i + 1 < at.length ? at[i + 1] : undefined)
    expect(section(0)).toMatch(/400 orders in [\d.]+s \(seed 42, fault rate 0\.02\)/)
    expect(section(0)).toMatch(/dead_lettered/)
    expect(section(1)).toMatch(/outbox \S+: \d+ rows/)
    expect(section(1)).toMatch(/pending\s+│?\s*[1-9]/)
    // The dead letters the demo leaves are what made this step exit 1 and stop the script before.
    expect(section(2)).toMatch(/order_queue\.dlq\s+depth [1-9]\d*/)
    expect(section(2)).toMatch(/rejected/)
    expect(section(3)).toMatch(/\d+ discrepanc(y|ies) found/)
    expect(section(3)).toMatch(/msgops dlq inspect order_queue\.dlq, msgops reconcile exited 1, as they should here/)
  })

  it('stops with the exit code of a step that failed', async () => {
    const run = await npmRunDemo(['--orders', '0'])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/--orders/)
    expect(run.stdout).not.toMatch(/\$ msgops outbox status/)
  })
})
