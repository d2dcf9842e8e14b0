import {Redis} from 'ioredis'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RedisCache} from '../../src/adapters/cache.js'
import {RedisAdapter} from '../../src/adapters/redis.js'
import {OrderPage} from '../../src/core/reconcile/packed-page.js'
import {createTestRedis, REDIS_URL, type TestRedis, uniqueName} from '../helpers/env.js'

let redis: TestRedis
let adapter: RedisAdapter

beforeAll(async () => {
  redis = await createTestRedis('msgops_recc')
  adapter = await RedisAdapter.connect(REDIS_URL, 5000)
})

afterAll(async () => {
  await adapter?.close()
  await redis?.cleanup()
})

describe('RedisCache (the cache port of reconcile)', () => {
  it('string: reads values, missing keys and wrong types in one pipeline; writes keep the TTL', async () => {
    const k = (s: string) => `${redis.prefix}s:${s}`
    await redis.client.set(k('a'), 'paid', 'EX', 1000)
    await redis.client.hset(k('h'), 'status', 'paid')
    const cache = new RedisCache(adapter, 'string', 'status')
    expect(await cache.read([k('a'), k('none'), k('h')])).toEqual([
      {state: 'value', value: 'paid'},
      {state: 'missing'},
      {state: 'invalid', reason: `wrong Redis type: ${k('h')} is a hash, expected a string`, wrongType: 'hash'},
    ])
    await cache.write([{key: k('a'), value: 'shipped'}])
    expect(await redis.client.get(k('a'))).toBe('shipped')
    expect(await redis.client.ttl(k('a'))).toBeGreaterThan(900)
    await cache.remove([k('a'), k('h')])
    expect(await redis.client.exists(k('a'), k('h'))).toBe(0)
  })

  it('readDiffering: null for a key holding exactly the expected value, a read for every other case', async () => {
    const k = (s: string) => `${redis.prefix}d:${s}`
    await redis.client.set(k('same'), 'paid')
    await redis.client.set(k('other'), 'created')
    await redis.client.set(k('utf8'), 'payé')
    await redis.client.set(k('prefix'), 'paid ')
    await redis.client.hset(k('hash'), 'status', 'paid')
    const cache = new RedisCache(adapter, 'string', 'status')
    const ids = ['same', 'other', 'utf8', 'prefix', 'none', 'hash', 'same']
    expect(await cache.readDiffering(`${redis.prefix}d:{id}`, OrderPage.of(ids, ['paid', 'paid', 'payé', 'paid', 'paid', 'paid', null]))).toEqual([
      null,
      {state: 'value', value: 'created'},
      null,
      {state: 'value', value: 'paid '},
      {state: 'missing'},
      {state: 'invalid', reason: `wrong Redis type: ${k('hash')} is a hash, expected a string`, wrongType: 'hash'},
      // No status to expect: whatever the key holds is read, and cacheDrift decides.
      {state: 'value', value: 'paid'},
    ])
    const json = new RedisCache(adapter, 'json', 'status')
    await redis.client.set(k('doc'), JSON.stringify({status: 'paid', total: 3}))
    expect(await json.readDiffering(`${redis.prefix}d:{id}`, OrderPage.of(['doc', 'doc'], ['paid', 'shipped']))).toEqual([null, {state: 'value', value: 'paid'}])
  })

  it('hash: reads and writes one field and leaves the others', async () => {
    const k = `${redis.prefix}h:1`
    await redis.client.hset(k, 'status', 'created', 'total', '12.50')
    const cache = new RedisCache(adapter, 'hash', 'status')
    expect(await cache.read([k])).toEqual([{state: 'value', value: 'created'}])
    await cache.write([{key: k, value: 'paid'}])
    expect(await redis.client.hgetall(k)).toEqual({status: 'paid', total: '12.50'})
  })

  it('write over keys of another type: replaced (TTL kept) or, with keep, left and returned; never an error', async () => {
    const k = (s: string) => `${redis.prefix}w:${s}`
    const hash = new RedisCache(adapter, 'hash', 'status')
    const text = new RedisCache(adapter, 'string', 'status')
    await redis.client.set(k('s'), 'paid', 'PX', 600_000)
    await redis.client.hset(k('h'), 'status', 'created')
    await redis.client.rpush(k('l'), 'x')
    // keep: a string and a list under HSET, a hash and a list under SET are left; the right-typed keys are written.
    expect(await hash.write([{key: k('s'), value: 'shipped'}, {key: k('h'), value: 'shipped'}, {key: k('l'), value: 'shipped'}], 'keep')).toEqual({left: [k('s'), k('l')]})
    expect(await redis.client.hget(k('h'), 'status')).toBe('shipped')
    expect(await text.write([{key: k('h'), value: 'paid'}, {key: k('s'), value: 'paid2'}, {key: k('l'), value: 'paid'}], 'keep')).toEqual({left: [k('h'), k('l')]})
    expect(await redis.client.get(k('s'))).toBe('paid2')
    expect([await redis.client.type(k('h')), await redis.client.type(k('l'))]).toEqual(['hash', 'list'])
    // replace: every key ends the configured type, the string's TTL kept through the hash replace.
    expect(await hash.write([{key: k('s'), value: 'shipped'}, {key: k('l'), value: 'shipped'}])).toEqual({left: []})
    expect(await redis.client.hgetall(k('s'))).toEqual({status: 'shipped'})
    expect(await redis.client.pttl(k('s'))).toBeGreaterThan(500_000)
    expect(await text.write([{key: k('s'), value: 'paid'}], 'replace')).toEqual({left: []})
    expect([await redis.client.get(k('s')), await redis.client.pttl(k('s')) > 500_000]).toEqual(['paid', true])
  })

  it('json: reads a field of a JSON document, flags what is not one, rewrites the field in place', async () => {
    const k = (s: string) => `${redis.prefix}j:${s}`
    await redis.client.set(k('a'), JSON.stringify({status: 'created', total: 12.5}))
    await redis.client.set(k('n'), JSON.stringify({status: 2}))
    await redis.client.set(k('bad'), 'not json')
    await redis.client.set(k('nofield'), '{"total": 1}')
    const cache = new RedisCache(adapter, 'json', 'status')
    expect(await cache.read([k('a'), k('n'), k('bad'), k('nofield'), k('none')])).toEqual([
      {state: 'value', value: 'created'},
      {state: 'value', value: '2'},
      {state: 'invalid', reason: 'not JSON'},
      {state: 'invalid', reason: 'no field status'},
      {state: 'missing'},
    ])
    await cache.write([
      {key: k('a'), value: 'paid'},
      {key: k('n'), value: '3'},
      {key: k('bad'), value: 'paid'},
      {key: k('none'), value: 'paid'},
    ])
    expect(JSON.parse((await redis.client.get(k('a')))!)).toEqual({status: 'paid', total: 12.5})
    expect(JSON.parse((await redis.client.get(k('n')))!)).toEqual({status: 3})
    expect(JSON.parse((await redis.client.get(k('bad')))!)).toEqual({status: 'paid'})
    expect(JSON.parse((await redis.client.get(k('none')))!)).toEqual({status: 'paid'})
  })

  it('readDiffering on a large page agrees with a plain read, whatever the value sizes (replies cut across many socket reads)', async () => {
    const k = (n: number) => `${redis.prefix}big:${n}`
    const statuses = ['paid', 'shipped', 'payé', 'x'.repeat(3000)]
    const pipeline = redis.client.pipeline()
    const expected: (string | null)[] = []
    for (let n = 0; n < 20_000; n++) {
      const value = statuses[n % 4]
      // Every 7th key holds another value, every 11th is missing, every 13th expects nothing.
      if (n % 11 !== 0) pipeline.set(k(n), n % 7 === 0 ? `${value}!` : value)
      expected.push(n % 13 === 0 ? null : value)
    }
    await pipeline.exec()
    const keys = expected.map((_e, n) => k(n))
    for (const format of ['string', 'hash'] as const) {
      const cache = new RedisCache(adapter, format, 'status')
      if (format === 'hash') {
        // The same data as hash fields; a few string keys left behind are of the wrong type for HGET.
        const hashes = redis.client.pipeline()
        for (let n = 0; n < 20_000; n++) if (n % 11 !== 0 && n % 17 !== 0) hashes.del(k(n)).hset(k(n), 'status', n % 7 === 0 ? `${statuses[n % 4]}!` : statuses[n % 4])
        await hashes.exec()
      }
      const plain = await cache.read(keys)
      const differing = await cache.readDiffering(`${redis.prefix}big:{id}`, OrderPage.of(expected.map((_e, n) => String(n)), expected))
      const want = plain.map((read, n) => (read.state === 'value' && expected[n] !== null && read.value === expected[n] ? null : read))
      expect(differing).toEqual(want)
      expect(differing.filter((d) => d === null).length).toBeGreaterThan(10_000)
      if (format === 'hash') expect(differing.filter((d) => d?.state === 'invalid').length).toBeGreaterThan(500)
    }
  })

  it('readDiffering builds each key from the pattern: {id} more than once, ids that are not ASCII, in both formats', async () => {
    const pattern = `${redis.prefix}p:{id}:v{id}`
    const ids = ['1', 'é', '東京', 'a b', '']
    const key = (id: string) => `${redis.prefix}p:${id}:v${id}`
    for (const format of ['string', 'hash'] as const) {
      for (const [n, id] of ids.entries()) {
        await redis.client.del(key(id))
        if (n === 4) continue
        if (format === 'string') await redis.client.set(key(id), n === 3 ? 'other' : 'paid')
        else await redis.client.hset(key(id), 'status', n === 3 ? 'other' : 'paid')
      }
      const cache = new RedisCache(adapter, format, 'status')
      // ASCII ids alone take the fast encoding, with one id that is not ASCII the plain one: both agree.
      expect(await cache.readDiffering(pattern, OrderPage.of(['1', 'a b', ''], ['paid', 'paid', 'paid']))).toEqual([null, {state: 'value', value: 'other'}, {state: 'missing'}])
      expect(await cache.readDiffering(pattern, OrderPage.of(ids, ids.map(() => 'paid')))).toEqual([null, null, null, {state: 'value', value: 'other'}, {state: 'missing'}])
    }
  })

  it('the raw connection selects the database of the URL and authenticates as the URL says', async () => {
    const user = uniqueName('msgops_acl')
    const password = `pw-${uniqueName('secret')}`
    const prefix = `${uniqueName('msgops_db5')}:`
    const db5 = new Redis(`${REDIS_URL}/5`)
    await redis.client.call('ACL', 'SETUSER', user, 'on', `>${password}`, `~${prefix}*`, '+@all')
    let other: RedisAdapter | undefined
    try {
      await db5.set(`${prefix}k`, 'paid')
      const url = new URL(REDIS_URL)
      url.username = user
      url.password = password
      url.pathname = '/5'
      other = await RedisAdapter.connect(url.toString(), 5000)
      const cache = new RedisCache(other, 'string', 'status')
      // In db 5 the key holds the value; in db 0 it does not exist.
      expect(await cache.readDiffering(`${prefix}{id}`, OrderPage.of(['k', 'none'], ['paid', 'paid']))).toEqual([null, {state: 'missing'}])
      expect(await new RedisCache(adapter, 'string', 'status').readDiffering(`${prefix}{id}`, OrderPage.of(['k'], ['paid']))).toEqual([{state: 'missing'}])
      // A second adapter whose raw connection opens after the user is gone: the error names Redis, never the password.
      const late = await RedisAdapter.connect(url.toString(), 5000)
      await redis.client.call('ACL', 'DELUSER', user)
      const error = await new RedisCache(late, 'string', 'status').readDiffering(`${prefix}{id}`, OrderPage.of(['k'], ['paid'])).catch((e: Error) => e)
      await late.close()
      expect(error).toBeInstanceOf(Error)
      expect((error as Error).message).toMatch(/Redis.*(WRONGPASS|invalid username-password)/)
      expect((error as Error).message).not.toContain(password)
    } finally {
      await other?.close()
      await redis.client.call('ACL', 'DELUSER', user)
      await db5.del(`${prefix}k`)
      db5.disconnect()
    }
  })
})
