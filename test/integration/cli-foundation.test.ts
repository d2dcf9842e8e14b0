import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {execFileSync} from 'node:child_process'

import {cliEnv, createTestDatabase, createTestRedis, RUN_JS, runCli, type TestDatabase, type TestRedis} from '../helpers/env.js'

let db: TestDatabase
let redis: TestRedis

beforeAll(async () => {
  db = await createTestDatabase()
  redis = await createTestRedis()
})

const made: string[] = []

afterAll(async () => {
  await db?.drop()
  await redis?.cleanup()
  for (const dir of made) rmSync(dir, {recursive: true, force: true})
})

function configDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'msgops-cli-'))
  made.push(dir)
  writeFileSync(join(dir, 'msgops.yaml'), yaml)
  return dir
}

describe('msgops CLI', () => {
  it('--help lists the topics', async () => {
    const {code, stdout} = await runCli(['--help'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/TOPICS/)
    expect(stdout).toMatch(/config\s/)
    expect(stdout).toMatch(/schema\s/)
    expect(stdout).toMatch(/doctor/)
  })

  it('under NODE_ENV=development or test (a developer\'s shell, a test runner) runs the build, never a TypeScript loader', async () => {
    for (const nodeEnv of ['development', 'test']) {
      // oclif's own debug lines say what its TypeScript path lookup did for the command run.
      const {code, stderr} = await runCli(['config', 'show'], {env: {NODE_ENV: nodeEnv, DEBUG: 'oclif:config:ts-path'}})
      expect(code, stderr).toBe(0)
      expect(stderr).toMatch(/Skipping typescript path lookup .* enableAutoTranspile is explicitly set to false/)
      expect(stderr).not.toMatch(/registering tsx|tsconfig:/)
    }
  })

  it('schema init creates the tables, and succeeds again without changing them', async () => {
    const env = cliEnv({db, redis})
    const first = await runCli(['schema', 'init', '--json'], {env})
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout).created).toEqual(['orders', 'outbox', 'inbox', 'msgops_audit'])
    const second = await runCli(['schema', 'init', '--json'], {env})
    expect(second.code).toBe(0)
    expect(JSON.parse(second.stdout)).toMatchObject({created: [], existing: ['orders', 'outbox', 'inbox', 'msgops_audit']})
    const conn = await mysql.createConnection(db.url)
    const [rows] = await conn.query('SELECT command, outcome FROM msgops_audit')
    await conn.end()
    // Only the run that created something changed state, so only it is audited.
    expect(rows).toHaveLength(1)
  })

  it('doctor --json prints an array of checks and exits 0 when the schema is in place', async () => {
    const env = cliEnv({db, redis})
    await runCli(['schema', 'init'], {env})
    const {code, stdout, stderr} = await runCli(['doctor', '--json'], {env})
    const checks = JSON.parse(stdout) as {name: string; ok: boolean; detail: string}[]
    expect(stderr).toBe('')
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['mysql', 'mysql.outbox', 'mysql.inbox', 'mysql.orders', 'mysql.outbox.index', 'mysql.skip-locked', 'rabbitmq', 'redis']),
    )
    for (const check of checks) expect(check).toEqual({name: expect.any(String), ok: true, detail: expect.any(String), ...(check as {latencyMs?: number}).latencyMs === undefined ? {} : {latencyMs: expect.any(Number)}})
    expect(code).toBe(0)
    // The reference schema has no index of the outbox ids alone: doctor still passes but says how reconcile would read them faster.
    expect(checks.find((c) => c.name === 'mysql.outbox.index')).toMatchObject({ok: true, detail: expect.stringContaining('CREATE INDEX idx_outbox_id ON outbox (id)')})
    const conn = await mysql.createConnection(db.url)
    await conn.query('CREATE INDEX idx_outbox_id ON outbox (id)')
    const again = await runCli(['doctor', '--json'], {env})
    await conn.query('DROP INDEX idx_outbox_id ON outbox')
    await conn.end()
    const index = (JSON.parse(again.stdout) as {name: string; ok: boolean; detail: string}[]).find((c) => c.name === 'mysql.outbox.index')!
    expect(index.ok).toBe(true)
    expect(index.detail).not.toContain('idx_outbox_id')
    expect(again.code).toBe(0)
  })

  it('doctor exits 1 and names what is missing when a mapped table lacks a column', async () => {
    const conn = await mysql.createConnection(db.url)
    await conn.query('CREATE TABLE order_mq_tab (messageId VARCHAR(64) PRIMARY KEY, messageStatus INT, addTime DATETIME)')
    await conn.end()
    const cwd = configDir('outbox:\n  table: order_mq_tab\n  columns: {id: messageId, status: messageStatus, createdAt: addTime, payload: messageContent}\n')
    const {code, stdout} = await runCli(['doctor', '--json'], {env: cliEnv({db, redis}), cwd})
    expect(code).toBe(1)
    const outbox = (JSON.parse(stdout) as {name: string; ok: boolean; detail: string}[]).find((c) => c.name === 'mysql.outbox')!
    expect(outbox.ok).toBe(false)
    expect(outbox.detail).toContain('payload (messageContent)')
  })

  it('an unreachable MySQL exits 2 with one line, no stack trace and no password; the other services still get their rows', async () => {
    const {code, stdout, stderr, ms} = await runCli(['doctor', '--mysql-url', 'mysql://root:s3cret@127.0.0.1:1/x'])
    expect(code).toBe(2)
    expect(stdout).toMatch(/✗ │ mysql .*connection refused/)
    expect(stdout).toMatch(/✓ │ rabbitmq /)
    expect(stdout).toMatch(/✓ │ redis /)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    expect(stderr).toMatch(/^Error: cannot connect to MySQL at mysql:\/\/root:\*\*\*\*@127\.0\.0\.1:1\/x/)
    expect(stderr + stdout).not.toContain('s3cret')
    expect(stderr).not.toMatch(/\n\s+at /)
    expect(ms).toBeLessThan(10_000)
  })

  it('--verbose shows the stack that is hidden otherwise, still masked', async () => {
    const {code, stderr} = await runCli(['doctor', '--verbose', '--redis-url', 'redis://:s3cret@127.0.0.1:1'])
    expect(code).toBe(2)
    expect(stderr).toMatch(/\n\s+at /)
    expect(stderr).not.toContain('s3cret')
  })

  it('a configuration with an injected table name exits 2 naming the key, before connecting', async () => {
    const cwd = configDir('outbox:\n  table: "orders; DROP TABLE x"\n')
    const {code, stdout, stderr} = await runCli(['doctor', '--mysql-url', 'mysql://root:pw@127.0.0.1:1/never'], {cwd})
    expect(code).toBe(2)
    expect(stdout).toBe('')
    expect(stderr).toMatch(/outbox\.table: must be a SQL identifier/)
    expect(stderr).not.toMatch(/cannot connect/)
    expect(stderr.trim().split('\n')).toHaveLength(1)
  })

  it('--json errors are JSON on stdout with the exit code', async () => {
    const {code, stdout} = await runCli(['doctor', '--json', '--amqp-url', 'amqp://guest:s3cret@127.0.0.1:1'])
    expect(code).toBe(2)
    const body = JSON.parse(stdout)
    expect(body.error).toMatchObject({kind: 'connection', exitCode: 2})
    expect(stdout).not.toContain('s3cret')
  })

  it('config show lists every value with its source and masks passwords', async () => {
    const cwd = configDir('outbox: {table: order_mq_tab}\nprofiles:\n  prod:\n    amqp: {url: "amqp://app:pr0d-secret@127.0.0.1:5672/prod"}\n')
    const {code, stdout} = await runCli(['config', 'show', '--profile', 'prod', '--json', '--redis-url', 'redis://:fl4g-secret@127.0.0.1:6379'], {
      cwd,
      env: {MSGOPS_MYSQL_URL: 'mysql://root:env-secret@127.0.0.1:3306/test'},
    })
    expect(code).toBe(0)
    const body = JSON.parse(stdout) as {file: string; profile: string; values: {key: string; value: unknown; source: string}[]}
    const byKey = Object.fromEntries(body.values.map((v) => [v.key, v]))
    expect(body.profile).toBe('prod')
    expect(byKey['outbox.table']).toEqual({key: 'outbox.table', value: 'order_mq_tab', source: 'file'})
    expect(byKey['amqp.url']).toMatchObject({value: 'amqp://app:****@127.0.0.1:5672/prod', source: 'profile'})
    expect(byKey['mysql.url']).toMatchObject({value: 'mysql://root:****@127.0.0.1:3306/test', source: 'env'})
    expect(byKey['redis.url']).toMatchObject({value: 'redis://:****@127.0.0.1:6379', source: 'flag'})
    expect(byKey['inbox.table'].source).toBe('default')
    expect(stdout).not.toMatch(/pr0d-secret|env-secret|fl4g-secret/)
    const human = await runCli(['config', 'show', '--profile', 'prod'], {cwd})
    expect(human.stdout).toMatch(/amqp\.url\s.*amqp:\/\/app:\*\*\*\*@127\.0\.0\.1:5672\/prod\s.*profile/)
  })

  it('writes a large JSON result in full even to a reader slower than the process', async () => {
    const env = cliEnv({db, redis})
    await runCli(['schema', 'init'], {env})
    const conn = await mysql.createConnection(db.url)
    const rows = Array.from({length: 1500}, (_v, i) => [`big-${String(i).padStart(5, '0')}`, JSON.stringify({n: i, text: 'x'.repeat(200)}), 'pending'])
    await conn.query('INSERT INTO outbox (id, payload, status) VALUES ?', [rows])
    await conn.end()
    // A pipe holds 64 KiB: the reader sleeps while the CLI finishes, so the rest must wait in the process for it.
    const script = `"${process.execPath}" "${RUN_JS}" outbox list --status pending --limit 1500 --json | (sleep 1; cat)`
    const out = execFileSync('bash', ['-c', script], {env: {...process.env, ...env, NO_COLOR: '1'}, maxBuffer: 64 * 1024 * 1024, cwd: '/tmp'}).toString()
    expect(out.length).toBeGreaterThan(200_000)
    const listed = JSON.parse(out) as {rows?: unknown[]} | unknown[]
    expect(Array.isArray(listed) ? listed.length : (listed.rows ?? []).length).toBe(1500)
  })

  it('an unknown flag is a usage error: exit 2, one line', async () => {
    const {code, stderr} = await runCli(['doctor', '--bogus'])
    expect(stderr).toBe('Error: unknown flag --bogus; see `msgops doctor --help`\n')
    expect(code).toBe(2)
    expect(stderr.trim().split('\n')).toHaveLength(1)
    const typo = await runCli(['outbox', 'list', '--limt', '3'])
    expect(typo.stderr).toBe('Error: unknown flag --limt; did you mean --limit?\n')
    expect(typo.code).toBe(2)
  })
})
