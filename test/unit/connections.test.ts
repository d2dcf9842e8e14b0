import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {nodeUrls} from '../../src/adapters/services.js'
import {isTlsFailure, tlsForUrl, tlsOptions, tlsReason} from '../../src/adapters/tls.js'
import {loadConfig} from '../../src/config/load.js'
import {ConfigError} from '../../src/core/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'msgops-conn-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function load(yaml: string) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, yaml)
  return loadConfig({configPath: file, env: {}, cwd: dir})
}

const loadError = (yaml: string) => {
  try {
    load(yaml)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('expected a configuration error')
}

describe('TLS settings (mysql.tls, amqp.tls, redis.tls)', () => {
  it('default to none; a map of files and rejectUnauthorized is accepted for each service', () => {
    const {config} = load('mysql:\n  tls: {ca: /ca.pem}\namqp:\n  url: amqps://h\n  tls: {ca: /ca.pem, cert: /c.pem, key: /k.pem, rejectUnauthorized: false}\nredis:\n  url: rediss://h\n  tls: {}\n')
    expect(config.mysql.tls).toEqual({ca: '/ca.pem'})
    expect(config.amqp.tls).toEqual({ca: '/ca.pem', cert: '/c.pem', key: '/k.pem', rejectUnauthorized: false})
    expect(config.redis.tls).toEqual({})
    expect(load('redis:\n  keyPrefix: x\n').config.mysql.tls).toBeNull()
  })

  it('refuses a cert without its key, an unknown key and a wrong type, naming the key', () => {
    expect(loadError('mysql:\n  tls: {cert: /c.pem}\n')).toContain('mysql.tls: cert and key go together')
    expect(loadError('redis:\n  tls: {ca: /a, verify: true}\n')).toContain('redis.tls.verify: unknown key')
    expect(loadError('amqp:\n  tls: {rejectUnauthorized: "no"}\n')).toContain('amqp.tls.rejectUnauthorized: expected boolean')
  })

  it('reads the files at connect: a missing one is a configuration error naming the key and the path', () => {
    const ca = join(dir, 'ca.pem')
    writeFileSync(ca, 'PEM')
    expect(tlsOptions('mysql.tls', {ca})).toEqual({ca: Buffer.from('PEM'), rejectUnauthorized: true})
    expect(tlsOptions('mysql.tls', null)).toBeUndefined()
    const missing = () => tlsOptions('redis.tls', {ca: join(dir, 'none.pem')})
    expect(missing).toThrow(ConfigError)
    expect(missing).toThrow(/^redis\.tls\.ca: cannot read .*none\.pem \(ENOENT\)/)
    chmodSync(ca, 0o000)
    // Root reads a file of mode 000: only a user who cannot gets the error.
    if (process.getuid?.() !== 0) expect(() => tlsOptions('mysql.tls', {ca})).toThrow(/EACCES/)
  })

  it('TLS options on a plain amqp:// or redis:// URL are refused: the scheme decides encryption', () => {
    expect(() => tlsForUrl('amqp.tls', {}, 'amqp://h', 'amqps:')).toThrow('amqp.tls is set but the URL is amqp://…: TLS options need a amqps:// URL')
    expect(() => tlsForUrl('redis.tls', {}, 'redis://h', 'rediss:')).toThrow(ConfigError)
    expect(tlsForUrl('redis.tls', {}, 'rediss://h', 'rediss:')).toEqual({rejectUnauthorized: true})
    expect(tlsForUrl('redis.tls', null, 'redis://h', 'rediss:')).toBeUndefined()
  })

  it('tells a TLS handshake failure from other connection errors', () => {
    expect(isTlsFailure(Object.assign(new Error('self-signed certificate in certificate chain'), {code: 'SELF_SIGNED_CERT_IN_CHAIN'}))).toBe(true)
    expect(isTlsFailure(Object.assign(new Error('Hostname/IP does not match'), {code: 'ERR_TLS_CERT_ALTNAME_INVALID'}))).toBe(true)
    expect(isTlsFailure(Object.assign(new Error('Server does not support secure connection'), {code: 'HANDSHAKE_NO_SSL_SUPPORT'}))).toBe(true)
    expect(isTlsFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {code: 'ECONNREFUSED'}))).toBe(false)
  })

  it('tlsReason: one test per row of its table', () => {
    const openssl = (reason: string) => `80FC88FF1F7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116`
    expect(tlsReason(openssl('tlsv13 alert certificate required'))).toBe('the server requires a client certificate (set tls.cert and tls.key)')
    expect(tlsReason(openssl('tlsv1 alert unknown ca'))).toBe('the server refused the client certificate')
    expect(tlsReason(openssl('wrong version number'))).toBe('wrong version number')
    expect(tlsReason('self-signed certificate in certificate chain')).toBe('self-signed certificate in certificate chain')
  })
})

describe('amqp.urls and management.urls', () => {
  it('a list replaces url, which holds its first URL; empty by default', () => {
    const {config} = load('amqp:\n  urls: ["amqp://u:p@n1:5672/vh", "amqp://u:p@n2:5672/vh"]\nmanagement:\n  urls: ["http://g:g@n1:15672", "http://g:g@n2:15672"]\n')
    expect(config.amqp.url).toBe('amqp://u:p@n1:5672/vh')
    expect(config.management.url).toBe('http://g:g@n1:15672')
    expect(load('redis:\n  keyPrefix: x\n').config.amqp.urls).toEqual([])
  })

  it('refuses a URL of another scheme or another virtual host, naming its place in the list', () => {
    expect(loadError('amqp:\n  urls: ["amqp://n1", "http://n2"]\n')).toContain('amqp.urls[1]: must be a AMQP URL')
    expect(loadError('amqp:\n  urls: ["amqp://n1/a", "amqp://n2/b"]\n')).toContain('amqp.urls[1]: every URL of the list must name the same virtual host')
    expect(loadError('amqp:\n  shuffleUrls: 1\n')).toContain('amqp.shuffleUrls: expected boolean')
  })

  it('nodeUrls: the list in order; a URL without a password takes the first one\'s for the same user; shuffled when asked', () => {
    const list = ['amqp://app:pw@n1/vh', 'amqp://n2/vh', 'amqp://app@n3/vh', 'amqp://other@n4/vh', 'amqp://x:own@n5/vh']
    expect(nodeUrls({url: list[0], urls: list})).toEqual(['amqp://app:pw@n1/vh', 'amqp://app:pw@n2/vh', 'amqp://app:pw@n3/vh', 'amqp://other@n4/vh', 'amqp://x:own@n5/vh'])
    expect(nodeUrls({url: 'amqp://n0', urls: []})).toEqual(['amqp://n0'])
    // Fisher–Yates driven by a fixed sequence: every URL once, in another order.
    const seq = [0.1, 0.9, 0.3, 0.5]
    const shuffled = nodeUrls({url: list[0], urls: list, shuffleUrls: true}, () => seq.shift() ?? 0)
    expect([...shuffled].sort()).toEqual([...nodeUrls({url: list[0], urls: list})].sort())
    expect(shuffled).not.toEqual(nodeUrls({url: list[0], urls: list}))
  })
})
