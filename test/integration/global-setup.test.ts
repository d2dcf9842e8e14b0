import {spawn} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

/**
 * The services check of test/helpers/global-setup.ts, run by vitest on a fixture project of one test that leaves
 * a marker file when it runs. The shared broker is never touched: a management API that is down is simulated by
 * pointing TEST_MANAGEMENT_URL at a closed port, and rabbitmq-plugins by a script of the same name on PATH.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
let dir: string
let marker: string

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as {port: number}).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'msgops-global-setup-'))
  marker = join(dir, 'ran')
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  writeFileSync(join(dir, 'one.test.ts'), `import {writeFileSync} from 'node:fs'\nimport {it} from 'vitest'\nit('runs', () => writeFileSync(${JSON.stringify(marker)}, 'yes'))\n`)
  writeFileSync(join(dir, 'vitest.config.ts'), `export default {test: {include: ['*.test.ts'], globalSetup: [${JSON.stringify(join(ROOT, 'test/helpers/global-setup.ts'))}]}}\n`)
})

afterAll(() => {
  if (dir) rmSync(dir, {recursive: true, force: true})
})

function vitest(env: Record<string, string>): Promise<{code: number | null; out: string; ran: boolean}> {
  rmSync(marker, {force: true})
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir], {
      cwd: dir,
      env: {...process.env, NO_COLOR: '1', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, out, ran: existsSync(marker)}))
  })
}

/** A stand-in for rabbitmq-plugins: records its arguments, then runs the given shell snippet. */
function fakePlugins(name: string, body: string): {path: string; calls: string} {
  const bin = join(dir, name)
  mkdirSync(bin, {recursive: true})
  const calls = join(bin, 'calls')
  writeFileSync(join(bin, 'rabbitmq-plugins'), `#!/bin/sh\necho "$@" >>'${calls}'\n${body}\n`)
  chmodSync(join(bin, 'rabbitmq-plugins'), 0o755)
  return {path: `${bin}:${process.env.PATH}`, calls}
}

/** What a refusal must look like: exit 2, nothing run, one line and no stack trace. */
function expectRefusal(run: {code: number | null; out: string; ran: boolean}, pattern: RegExp): void {
  expect(run.code, run.out).toBe(2)
  expect(run.ran).toBe(false)
  const lines = run.out.split('\n').filter((l) => l.startsWith('npm test cannot run:'))
  expect(lines.length, run.out).toBe(1)
  expect(lines[0]).toMatch(pattern)
  expect(run.out).not.toMatch(/\n\s+at /)
  expect(run.out).not.toMatch(/FAIL|ECONNREFUSED 127/)
}

describe('services check before the tests', () => {
  it('with every service up, the tests run', async () => {
    const run = await vitest({})
    expect(run.code, run.out).toBe(0)
    expect(run.ran).toBe(true)
    expect(run.out).not.toMatch(/cannot run|enabled/)
  })

  it('management API down, enabling forbidden: stops with one line naming the command to run', async () => {
    const run = await vitest({TEST_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${await freePort()}`, TEST_AUTO_ENABLE_PLUGINS: '0'})
    expectRefusal(run, /management API at 127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED\): run "rabbitmq-plugins enable rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management", then npm test again$/)
  })

  it('management API down on another host: names the host to run the command on, enables nothing', async () => {
    const fake = fakePlugins('remote', 'exit 0')
    const run = await vitest({TEST_MANAGEMENT_URL: `http://guest:guest@127.0.0.2:${await freePort()}`, PATH: fake.path})
    expectRefusal(run, /rabbitmq_shovel_management" on 127\.0\.0\.2, then npm test again$/)
    expect(existsSync(fake.calls)).toBe(false)
  })

  it('management API down on a local broker: enables the plugins, says so in one line, waits for the API, runs the tests', async () => {
    const port = await freePort()
    // "Enabling" starts a stand-in API on the port (answering 200; it ends itself after 30 s if not stopped here).
    const server = `require('http').createServer((q, s) => s.end('{}')).listen(${port}, '127.0.0.1'); setTimeout(() => process.exit(), 30000)`
    const pidFile = join(dir, 'server.pid')
    const fake = fakePlugins('enable', `'${process.execPath}' -e "${server}" </dev/null >/dev/null 2>&1 &\necho $! >'${pidFile}'\nexit 0`)
    const run = await vitest({TEST_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${port}`, PATH: fake.path})
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8')))
      } catch {}
    }
    expect(run.code, run.out).toBe(0)
    expect(run.ran).toBe(true)
    expect(readFileSync(fake.calls, 'utf8')).toBe('enable rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management\n')
    expect(run.out.split('\n').filter((l) => /enabled it on the local broker/.test(l)).length).toBe(1)
  })

  it('enabling that does not bring the API up within the wait: stops with one line', async () => {
    const fake = fakePlugins('silent', 'exit 0')
    const run = await vitest({TEST_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${await freePort()}`, PATH: fake.path, TEST_MANAGEMENT_WAIT_S: '2'})
    expectRefusal(run, /does not answer \(ECONNREFUSED\) 2s after "rabbitmq-plugins enable .*": check the broker/)
  })

  it('enabling that fails (no permission): stops with one line saying to run it with the rights to', async () => {
    const fake = fakePlugins('denied', 'echo "Error: permission denied: /etc/rabbitmq/enabled_plugins" >&2; exit 70')
    const run = await vitest({TEST_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${await freePort()}`, PATH: fake.path})
    expectRefusal(run, /failed \(Error: permission denied: \/etc\/rabbitmq\/enabled_plugins\): run it as a user that may \(e\.g\. with sudo\)/)
  })

  it('MySQL, RabbitMQ or Redis down: one line naming it and how to start it', async () => {
    const port = await freePort()
    expectRefusal(await vitest({TEST_MYSQL_URL: `mysql://root@127.0.0.1:${port}/test`}), /^npm test cannot run: MySQL at 127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED\): start it \(.*\), or point TEST_MYSQL_URL/)
    expectRefusal(await vitest({TEST_AMQP_URL: `amqp://guest:guest@127.0.0.1:${port}`}), /RabbitMQ \(AMQP\) at 127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED\): start it/)
    expectRefusal(await vitest({TEST_REDIS_URL: `redis://127.0.0.1:${port}`}), /Redis at 127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED\): start it/)
  })
})
