import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createTestDatabase, createTestRedis, createTestVhost, MYSQL_ROOT, runCli, type TestDatabase, type TestRedis, uniqueName} from '../helpers/env.js'

/**
 * No secret on the command line: passwords come from MSGOPS_<SERVICE>_PASSWORD or a <service>.passwordFile that only
 * its owner may read; config show says where each comes from, masked; no output ever holds one.
 */
let db: TestDatabase
let redis: TestRedis
let dir: string
const user = uniqueName('mp').slice(0, 30)
const SECRET = `pw-${uniqueName('s')}`

beforeAll(async () => {
  db = await createTestDatabase()
  redis = await createTestRedis()
  dir = mkdtempSync(join(tmpdir(), 'msgops-secrets-'))
  const root = await mysql.createConnection(MYSQL_ROOT)
  await root.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', SECRET])
  await root.query(`GRANT ALL ON \`${db.name}\`.* TO ?@?`, [user, '%'])
  await root.end()
})

afterAll(async () => {
  const root = await mysql.createConnection(MYSQL_ROOT)
  await root.query('DROP USER IF EXISTS ?@?', [user, '%'])
  await root.end()
  await db?.drop()
  await redis?.cleanup()
  rmSync(dir, {recursive: true, force: true})
})

const url = () => `mysql://${user}@127.0.0.1:3306/${db.name}`
const doctor = async (env: Record<string, string>, cwd?: string) => {
  const r = await runCli(['doctor', '--json'], {env: {MSGOPS_MYSQL_URL: url(), MSGOPS_REDIS_KEY_PREFIX: redis.prefix, ...env}, cwd})
  expect(r.stdout + r.stderr).not.toContain(SECRET)
  return r
}
const mysqlRow = (stdout: string) => {
  const body = JSON.parse(stdout)
  return (Array.isArray(body) ? body : body.result).find((c: {name: string}) => c.name === 'mysql')
}

describe('passwords without the command line', () => {
  it('MSGOPS_MYSQL_PASSWORD is used for a URL without one; without it the server refuses', async () => {
    expect(mysqlRow((await doctor({MSGOPS_MYSQL_PASSWORD: SECRET})).stdout).ok).toBe(true)
    const refused = await doctor({})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/cannot connect to MySQL .*Access denied/)
  })

  it('a passwordFile only its owner may read is used; one others may read is refused with one line', async () => {
    const file = join(dir, 'mysql.pw')
    writeFileSync(file, `${SECRET}\n`)
    chmodSync(file, 0o600)
    const cwd = mkdtempSync(join(dir, 'cfg-'))
    writeFileSync(join(cwd, 'msgops.yaml'), `mysql:\n  passwordFile: ${file}\n`)
    expect(mysqlRow((await doctor({}, cwd)).stdout).ok).toBe(true)
    chmodSync(file, 0o644)
    const open = await runCli(['doctor'], {env: {MSGOPS_MYSQL_URL: url()}, cwd})
    expect(open.code).toBe(2)
    expect(open.stderr).toBe(`Error: mysql.passwordFile: ${file} may be read or written by every user (mode 0644); chmod 600 ${file} (in Kubernetes: defaultMode: 0400 on the secret volume)\n`)
    // The variable names the file too, and the variable of the password wins over the file.
    chmodSync(file, 0o600)
    writeFileSync(file, 'wrong-password\n')
    expect(mysqlRow((await doctor({MSGOPS_MYSQL_PASSWORD: SECRET}, cwd)).stdout).ok).toBe(true)
  })

  it('config show says where each password comes from, masked', async () => {
    const file = join(dir, 'redis.pw')
    writeFileSync(file, 'redis-secret\n')
    chmodSync(file, 0o600)
    const r = await runCli(['config', 'show', '--json'], {env: {MSGOPS_MYSQL_URL: url(), MSGOPS_MYSQL_PASSWORD: SECRET, MSGOPS_REDIS_PASSWORD_FILE: file}})
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).not.toContain(SECRET)
    expect(r.stdout).not.toContain('redis-secret')
    const byKey = Object.fromEntries((JSON.parse(r.stdout).values as {key: string; value: unknown; source: string}[]).map((v) => [v.key, v]))
    expect(byKey['mysql.password']).toEqual({key: 'mysql.password', value: '**** (MSGOPS_MYSQL_PASSWORD)', source: 'env'})
    expect(byKey['redis.password']).toEqual({key: 'redis.password', value: `**** (${file})`, source: 'env'})
    expect(byKey['redis.passwordFile']).toMatchObject({value: file, source: 'env'})
    expect(byKey['amqp.password']).toMatchObject({value: '****', source: 'default'})
    expect(byKey['mysql.password'].source).toBe('env')
  })
})

describe('least privilege', () => {
  it('doctor says what a read-only user may run; a drain by it is refused before anything is published', async () => {
    const root = await mysql.createConnection(MYSQL_ROOT)
    const ro = uniqueName('ro').slice(0, 30)
    await root.query('CREATE USER ?@? IDENTIFIED BY ?', [ro, '%', SECRET])
    await root.query(`GRANT SELECT ON \`${db.name}\`.* TO ?@?`, [ro, '%'])
    try {
      const vhost = await createTestVhost()
      try {
        const admin = {MSGOPS_MYSQL_URL: db.url, MSGOPS_REDIS_KEY_PREFIX: redis.prefix, MSGOPS_AMQP_URL: vhost.amqpUrl}
        expect((await runCli(['schema', 'init'], {env: admin})).code).toBe(0)
        await root.query(`INSERT INTO \`${db.name}\`.outbox (id, exchange, routing_key, payload, status, created_at) VALUES ('ro-1', 'amq.topic', 'x', '{}', 'pending', NOW(3) - INTERVAL 1 HOUR)`)
        const env = {...admin, MSGOPS_MYSQL_URL: `mysql://${ro}@127.0.0.1:3306/${db.name}`, MSGOPS_MYSQL_PASSWORD: SECRET}
        const doctor = await runCli(['doctor', '--json'], {env})
        const grants = (JSON.parse(doctor.stdout) as {name: string; ok: boolean; detail: string}[]).find((c) => c.name === 'mysql.grants')!
        expect(grants.ok).toBe(true)
        expect(grants.detail).toMatch(new RegExp(`^${ro}@% may run the reading commands; not outbox drain \\(lacks UPDATE on outbox, INSERT on msgops_audit\\);`))
        const drain = await runCli(['outbox', 'drain', '--yes'], {env})
        expect(drain.code).toBe(2)
        expect(drain.stderr).toBe(`Error: the MySQL user ${ro}@% lacks UPDATE on outbox, INSERT on msgops_audit, which msgops outbox drain needs; nothing was changed; grant it (docs/security.md lists the grants of each command), or run as a user that has it\n`)
        const [rows] = await root.query<any[]>(`SELECT status FROM \`${db.name}\`.outbox WHERE id = 'ro-1'`)
        expect(rows[0].status).toBe('pending')
        // Reading works: status as the read-only user.
        expect((await runCli(['outbox', 'status'], {env})).code).toBe(0)
      } finally {
        await vhost.drop()
      }
    } finally {
      await root.query('DROP USER IF EXISTS ?@?', [ro, '%'])
      await root.end()
    }
  })
})
