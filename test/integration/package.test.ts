import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliProcessEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

/**
 * What `npm install -g msgops` gives a user: the tarball of this checkout (as built by npm test), installed into a
 * prefix of its own from the npm cache, run from another directory. The commands, the hook and the plugins must
 * load from there, not from this checkout.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)
let dir: string
let files: string[]
let msgops: (args: string[], env?: Record<string, string>) => Promise<{code: number; stdout: string; stderr: string}>
let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'msgops-pack-'))
  ;[db, vhost, redis] = await makeAll([createTestDatabase(), createTestVhost(), createTestRedis()] as const)
  // dist/ is built already (npm test builds first); --ignore-scripts keeps pack from building it again.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {cwd: ROOT, maxBuffer: 64 * 1024 * 1024})
  const [info] = JSON.parse(packed.stdout) as {filename: string; files: {path: string}[]}[]
  files = info.files.map((f) => f.path)
  const prefix = join(dir, 'prefix')
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error', join(dir, info.filename)], {cwd: dir, timeout: 180_000})
  const home = join(dir, 'home')
  msgops = async (args, env = {}) => {
    try {
      const r = await run(join(prefix, 'bin', 'msgops'), args, {cwd: tmpdir(), env: cliProcessEnv({HOME: home, XDG_CACHE_HOME: join(home, '.cache'), ...env})})
      return {code: 0, stdout: r.stdout, stderr: r.stderr}
    } catch (error) {
      const e = error as {code: number; stdout: string; stderr: string}
      return {code: e.code, stdout: e.stdout, stderr: e.stderr}
    }
  }
}, 240_000)

afterAll(async () => {
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('the npm package', () => {
  it('ships what runs and what its errors point to, not the development entry point', () => {
    expect(files).toContain('bin/run.js')
    expect(files).not.toContain('bin/dev.js')
    for (const doc of ['docs/topology.md', 'docs/outbox.md', 'docs/dlq.md', 'docs/reconcile.md', 'docs/RELIABILITY.md']) expect(files).toContain(doc)
    expect(files).toContain('examples/topology.yaml')
    expect(files).toContain('oclif.manifest.json')
    expect(files).toContain('dist/hooks/not-found.js')
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/'))).toEqual([])
  })

  it('installed globally, runs --version, help, a typo and completion from another directory', async () => {
    const version = await msgops(['--version'])
    expect(version.code, version.stderr).toBe(0)
    expect(version.stdout).toMatch(/^msgops\/0\.\d+\.\d+ /)
    const help = await msgops(['help', 'outbox', 'drain'])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/\$ msgops outbox drain/)
    const typo = await msgops(['outbx', 'status'])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toMatch(/did you mean "msgops outbox status"\?/)
    const completion = await msgops(['autocomplete', 'bash'])
    expect(completion.code, completion.stderr).toBe(0)
  })

  it('installed globally, doctor reaches the services and the demo topology is there', async () => {
    const env = {MSGOPS_MYSQL_URL: db.url, MSGOPS_AMQP_URL: vhost.amqpUrl, MSGOPS_MANAGEMENT_URL: vhost.managementUrl, MSGOPS_REDIS_KEY_PREFIX: redis.prefix}
    const doctor = await msgops(['doctor', '--json'], env)
    // Exit 1: the empty database lacks the tables; the services themselves answer.
    expect([0, 1], doctor.stderr).toContain(doctor.code)
    expect(doctor.stderr).not.toMatch(/Cannot find|ERR_MODULE_NOT_FOUND|\n\s+at /)
    const report = JSON.stringify(JSON.parse(doctor.stdout))
    expect(report).toMatch(/mysql/i)
    expect(report).toMatch(/rabbitmq|amqp/i)
    expect(report).toMatch(/redis/i)
    const plan = await msgops(['topology', 'plan', join(dir, 'prefix/lib/node_modules/msgops/examples/topology.yaml'), '--json'], env)
    expect([0, 1], plan.stderr).toContain(plan.code)
    expect(plan.stdout).toMatch(/order_queue\.dlq/)
  })
})
