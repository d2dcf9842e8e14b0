import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import amqp from 'amqplib'
import {Redis} from 'ioredis'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {figure} from './helpers/setup.js'
import {type Certs, PrivateServers, type PrivateMariaDb, type PrivateRabbit, type PrivateRedis} from './helpers/servers.js'
import {errorLines, seedOutbox, takeAll} from './helpers/world.js'

/**
 * TLS to all three services (issue 23): private MariaDB, RabbitMQ and Redis started with certificates the test makes
 * (openssl: a CA, a server certificate for localhost and 127.0.0.1, a client certificate), each requiring a client
 * certificate (MariaDB: the user is REQUIRE X509; RabbitMQ: fail_if_no_peer_cert; Redis: TLS port only,
 * tls-auth-clients yes). msgops connects with mysql.tls, amqps:// + amqp.tls and rediss:// + redis.tls and does real
 * work; every wrong setting is exit 2 with one line, no stack, no password.
 */
const SECRET = `pw-${Math.random().toString(36).slice(2)}-tls`

let servers: PrivateServers
let certs: Certs
let my: PrivateMariaDb
let mq: PrivateRabbit
let rd: PrivateRedis
let env: Record<string, string>

beforeAll(async () => {
  servers = new PrivateServers('msgops-tls')
  certs = await servers.certs()
  ;[my, mq, rd] = await Promise.all([servers.mariadb(certs), servers.rabbit({certs}), servers.redis(certs)])
  await my.sql(`CREATE DATABASE tls; CREATE USER msgops@'127.0.0.1' IDENTIFIED BY '${SECRET}' REQUIRE X509; GRANT ALL ON *.* TO msgops@'127.0.0.1'`)
  // The test's own setup goes over the plain AMQP listener; msgops only over TLS.
  const model = await amqp.connect(mq.url())
  const ch = await model.createChannel()
  await ch.assertExchange('orders.x', 'topic', {durable: true})
  await ch.assertQueue('orders.q', {durable: true})
  await ch.bindQueue('orders.q', 'orders.x', 'order.#')
  await model.close()
  env = {
    MSGOPS_MYSQL_URL: `mysql://msgops@127.0.0.1:${my.port}/tls`,
    MSGOPS_MYSQL_PASSWORD: SECRET,
    MSGOPS_AMQP_URL: mq.amqpsUrl(),
    MSGOPS_REDIS_URL: rd.url(),
    MSGOPS_MANAGEMENT_URL: 'http://guest:guest@127.0.0.1:1',
  }
}, 180_000)

afterAll(async () => {
  await servers?.cleanup()
}, 60_000)

/** The test's own clients' TLS options. */
const clientTls = () => ({ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey)})

type Tls = {ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean} | null

/** A configuration file with these TLS settings (the right ones by default). */
function config(name: string, over: {mysql?: Tls; amqp?: Tls; redis?: Tls; amqpUrl?: string} = {}): string {
  const right = {ca: certs.ca, cert: certs.clientCert, key: certs.clientKey}
  const yaml = (tls: Tls) => (tls === null ? 'null' : JSON.stringify(tls))
  const file = join(servers.dir, `${name}.yaml`)
  writeFileSync(file, [
    `mysql:\n  tls: ${yaml(over.mysql === undefined ? right : over.mysql)}`,
    `amqp:\n  tls: ${yaml(over.amqp === undefined ? right : over.amqp)}${over.amqpUrl ? `\n  url: "${over.amqpUrl}"` : ''}`,
    `redis:\n  tls: ${yaml(over.redis === undefined ? right : over.redis)}`,
    'cache:\n  keyPattern: "order:{id}"',
  ].join('\n'))
  return file
}

function expectOneLine(result: {code: number | null; stdout: string; stderr: string}, pattern: RegExp): string {
  expect(result.code, result.stderr).toBe(2)
  const lines = errorLines(result as never)
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
  expect(result.stderr).not.toContain('    at ')
  expect(`${result.stdout}${result.stderr}`).not.toContain(SECRET)
  expect(`${result.stdout}${result.stderr}`).not.toContain('guest:guest')
  return lines[0]
}

describe('TLS to MySQL, RabbitMQ and Redis', () => {
  it('with the CA and a client certificate: schema init, a drain (MySQL, amqps, the rediss lock) and reconcile --fix of the cache (the raw RESP connection too) all work', async () => {
    const file = config('right')
    const init = await runCli(['schema', 'init', '--config', file], {env})
    expect(init.code, init.stderr).toBe(0)
    const conn = await mysql.createConnection({host: '127.0.0.1', port: my.port, user: 'msgops', password: SECRET, database: 'tls', ssl: clientTls()})
    const ids = await seedOutbox(conn as never, 500, 'tls', 'orders.x', 'order.created')
    const old = new Date(Date.now() - 3_600_000)
    await conn.query('INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES ?', [Array.from({length: 300}, (_, i) => [`o-${i}`, `tls-${String(i).padStart(6, '0')}`, 'paid', old, old])])
    const drain = await runCli(['outbox', 'drain', '--yes', '--config', file], {env, timeoutMs: 120_000})
    expect(drain.code, drain.stderr).toBe(0)
    const model = await amqp.connect(mq.url())
    const arrived = await takeAll(await model.createChannel(), 'orders.q')
    await model.close()
    expect(new Set(arrived)).toEqual(new Set(ids))
    const fix = await runCli(['reconcile', '--fix', '--yes', '--since', '7d', '--check', 'cache_drift', '--config', file, '--json'], {env, timeoutMs: 120_000})
    expect(fix.code, fix.stderr).toBe(0)
    expect(JSON.parse(fix.stdout).fixes.checks.cache_drift.fixed).toBe(300)
    const check = await runCli(['reconcile', '--since', '7d', '--check', 'cache_drift', '--config', file, '--json'], {env, timeoutMs: 120_000})
    expect(check.code, check.stderr).toBe(0)
    // What the servers saw: the sessions were TLS (MariaDB's status of a session of the same user), the keys are there.
    const [cipher] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
    expect((cipher as {Value: string}[])[0].Value).not.toBe('')
    await conn.end()
    const redis = new Redis(rd.url(), {tls: clientTls()})
    expect(await redis.dbsize()).toBe(300)
    redis.disconnect()
    figure('tls', {drained: ids.length, cacheFixed: 300, starts: {mariadb: my.starts, rabbitmq: mq.starts, redis: rd.starts}})
  })

  it('a server certificate from another CA is refused by each service with one line saying TLS', async () => {
    const other = {ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey}
    const lines = [
      expectOneLine(await runCli(['outbox', 'status', '--config', config('ca-mysql', {mysql: other})], {env}), /^Error: cannot connect to MySQL at .*: TLS: /),
      expectOneLine(await runCli(['dlq', 'inspect', 'orders.q', '--config', config('ca-amqp', {amqp: other})], {env}), /^Error: cannot connect to RabbitMQ at .*: TLS: /),
      expectOneLine(await runCli(['reconcile', '--check', 'cache_drift', '--config', config('ca-redis', {redis: other})], {env}), /^Error: cannot connect to Redis at .*: TLS: /),
    ]
    figure('tls wrong CA', {lines})
  })

  it('rejectUnauthorized: false connects whatever signed the server certificate', async () => {
    const loose = {ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey, rejectUnauthorized: false}
    const doctor = await runCli(['doctor', '--json', '--config', config('loose', {mysql: loose, amqp: loose, redis: loose})], {env, timeoutMs: 60_000})
    const checks = JSON.parse(doctor.stdout) as {name: string; ok: boolean; detail: string}[]
    for (const name of ['mysql', 'rabbitmq', 'redis']) expect(checks.find((c) => c.name === name), JSON.stringify(checks)).toMatchObject({ok: true})
  })

  it('no client certificate where the server requires one: one line each', async () => {
    // Redis (TLS 1.3) either resets the handshake or sends its 'certificate required' alert first, as timing has it: both are one line
    const caOnly = {ca: certs.ca}
    const lines = [
      expectOneLine(await runCli(['outbox', 'status', '--config', config('nocert-mysql', {mysql: caOnly})], {env}), /MySQL/),
      expectOneLine(await runCli(['dlq', 'inspect', 'orders.q', '--config', config('nocert-amqp', {amqp: caOnly})], {env}), /RabbitMQ.*TLS: the server requires a client certificate/),
      expectOneLine(await runCli(['reconcile', '--check', 'cache_drift', '--config', config('nocert-redis', {redis: caOnly})], {env}), /Redis.*(may require|requires) a client certificate/),
    ]
    figure('tls no client certificate', {lines})
  })

  it('bad TLS settings are configuration errors naming the key: a missing file, a cert without its key, options on a plain amqp:// URL', async () => {
    expectOneLine(await runCli(['outbox', 'status', '--config', config('missing', {mysql: {ca: join(servers.dir, 'none.pem')}})], {env}), /^Error: mysql\.tls\.ca: cannot read .*none\.pem \(ENOENT\)/)
    expectOneLine(await runCli(['outbox', 'status', '--config', config('half', {redis: {cert: certs.clientCert}})], {env}), /redis\.tls: cert and key go together/)
    expectOneLine(await runCli(['dlq', 'inspect', 'orders.q', '--config', config('plain', {amqpUrl: mq.url()})], {env: {...env, MSGOPS_AMQP_URL: mq.url()}}), /^Error: amqp\.tls is set but the URL is amqp:\/\/…/)
  })
})
