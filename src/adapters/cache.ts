import type {Redis} from 'ioredis'

import type {OrderPage} from '../core/reconcile/packed-page.js'
import {cacheKeys} from '../core/reconcile/key-pattern.js'
import type {CachePort, CacheRead} from '../core/reconcile/ports.js'
import type {RedisAdapter} from './redis.js'
import {encodeKeyCommands} from './resp.js'

export type CacheFormat = 'string' | 'hash' | 'json'

type PipelineResult = [error: Error | null, value: unknown][] | null

/** What a fix does with a key of another Redis type than the format's: `replace` it, or `keep` it and report it. */
export type WrongTypePolicy = 'keep' | 'replace'

const WRONGTYPE = /^WRONGTYPE\b/

/** A hash write over a key of another type, in one step: the key replaced by a hash of the field, its TTL kept; a key that became a hash meanwhile only gets the field. */
const REPLACE_HASH = `local t = redis.call('type', KEYS[1]).ok
if t ~= 'hash' and t ~= 'none' then
  local ttl = redis.call('pttl', KEYS[1])
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
  if ttl > 0 then redis.call('pexpire', KEYS[1], ttl) end
  return 1
end
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
return 0`

/** A key that holds another Redis type than the format expects, named with its type: a finding, not an error. */
function wrongType(key: string, type: string, expected: string): CacheRead {
  return {state: 'invalid', reason: `wrong Redis type: ${key} is a ${type}, expected a ${expected}`, wrongType: type}
}

/**
 * The order cache on Redis: each call is one pipeline (one round trip for the whole batch).
 * string: GET/SET; hash: HGET/HSET of the field; json: a JSON document in a string key, the field read and
 * rewritten in place (other fields kept). Writes keep the key's TTL.
 */
export class RedisCache implements CachePort {
  private readonly client: Redis

  constructor(
    private readonly redis: RedisAdapter,
    private readonly format: CacheFormat,
    private readonly field: string,
  ) {
    this.client = redis.client
  }

  async read(keys: string[]): Promise<CacheRead[]> {
    if (keys.length === 0) return []
    if (this.format === 'hash') {
      const pipeline = this.client.pipeline()
      for (const key of keys) pipeline.hget(key, this.field)
      const results = await this.exec(() => pipeline.exec())
      const reads = keys.map((_key, n) => this.interpret(results[n]))
      const wrong = results.flatMap(([error], n) => (error && WRONGTYPE.test(error.message) ? [n] : []))
      await this.markWrongTypes(wrong.map((n) => keys[n]), wrong, reads)
      return reads
    }
    // MGET is one command for the whole batch, several times faster than as many GETs.
    const values = await this.redis.run(() => this.client.mget(keys))
    const reads: CacheRead[] = values.map((value) => this.interpret([null, value]))
    const nil = reads.flatMap((read, n) => (read.state === 'missing' ? [n] : []))
    await this.markWrongTypes(nil.map((n) => keys[n]), nil, reads)
    return reads
  }

  async readDiffering(pattern: string, page: OrderPage): Promise<(CacheRead | null)[]> {
    if (page.count === 0) return []
    const key = cacheKeys(pattern)
    if (this.format === 'json') {
      const reads = await this.read(Array.from({length: page.count}, (_x, n) => key(page.id(n))))
      return reads.map((read, n) => (read.state === 'value' && page.statusIs(n, read.value) ? null : read))
    }
    const want = new Array<Buffer | null>(page.count)
    for (let n = 0; n < page.count; n++) want[n] = this.bytes(page, n)
    const hash = this.format === 'hash'
    const ids = {text: page.text, start: page.idStart, end: page.idEnd}
    const commands = hash ? encodeKeyCommands(['HGET'], pattern, ids, [this.field], true) : encodeKeyCommands(['MGET'], pattern, ids, [], false)
    const compared = await this.redis.compare(commands, want, !hash)
    // HGET answers WRONGTYPE itself; MGET answers nil for a key of another type: both are asked their type.
    const ask: number[] = []
    const out: (CacheRead | null)[] = compared as (CacheRead | null)[]
    for (let n = 0; n < compared.length; n++) {
      const c = compared[n]
      if (c === null || c.state === 'value') continue
      if (c.state === 'error') {
        out[n] = this.interpret([new Error(c.message), null])
        if (WRONGTYPE.test(c.message)) ask.push(n)
      } else if (!hash) ask.push(n)
    }
    await this.markWrongTypes(ask.map((n) => key(page.id(n))), ask, out)
    return out
  }

  /** The UTF-8 bytes of order n's status (null for NULL), made once per distinct status: most pages hold a few statuses over and over. */
  private readonly encoded = new Map<string, Buffer>()
  private last: {text: string; bytes: Buffer} | null = null
  private bytes(page: OrderPage, n: number): Buffer | null {
    if (page.statusStart[n] < 0) return null
    if (this.last && page.statusIs(n, this.last.text)) return this.last.bytes
    const text = page.status(n)!
    let bytes = this.encoded.get(text)
    if (!bytes) {
      bytes = Buffer.from(text, 'utf8')
      if (this.encoded.size < 1000) this.encoded.set(text, bytes)
    }
    this.last = {text, bytes}
    return bytes
  }

  /** The Redis type the configured format reads and writes. */
  private get expectedType(): 'hash' | 'string' {
    return this.format === 'hash' ? 'hash' : 'string'
  }

  /**
   * The few keys that answered nil (MGET: a key of another type answers nil too) or WRONGTYPE (HGET) are asked their
   * type (`keys[j]` is read n = at[j]): a key of another type is read as invalid, with its type and its key named.
   */
  private async markWrongTypes(keys: string[], at: number[], reads: (CacheRead | null)[]): Promise<void> {
    if (at.length === 0) return
    const pipeline = this.client.pipeline()
    for (const key of keys) pipeline.type(key)
    const types = await this.exec(() => pipeline.exec())
    for (const [j, n] of at.entries()) {
      const type = types[j][1]
      if (typeof type === 'string' && type !== 'none' && type !== this.expectedType) reads[n] = wrongType(keys[j], type, this.expectedType)
    }
  }

  /**
   * Writes each value the configured way; a key of another Redis type is replaced (`replace`, its TTL kept) or left
   * as it is (`keep`): the keys left are returned, never an error, so one odd key does not stop a fix.
   *
   * | format      | keep                                          | replace                                          |
   * | ----------- | --------------------------------------------- | ------------------------------------------------ |
   * | string/json | SET … KEEPTTL GET (aborted on another type)   | SET … KEEPTTL (SET replaces a key of any type)   |
   * | hash        | HSET (fails on another type: left)            | HSET; on WRONGTYPE, REPLACE_HASH (atomic: DEL,   |
   * |             |                                               | HSET, the old TTL back) when still not a hash    |
   */
  async write(entries: {key: string; value: string}[], onWrongType: WrongTypePolicy = 'replace'): Promise<{left: string[]}> {
    if (entries.length === 0) return {left: []}
    let docs: CacheRead[] = []
    // A JSON document is rewritten field by field, so its other fields survive; one more round trip to read them.
    if (this.format === 'json') docs = await this.readRaw(entries.map((e) => e.key))
    const keep = onWrongType === 'keep'
    const pipeline = this.client.pipeline()
    for (const [n, {key, value}] of entries.entries()) {
      if (this.format === 'hash') pipeline.hset(key, this.field, value)
      else if (this.format === 'string') (keep ? pipeline.set(key, value, 'KEEPTTL', 'GET') : pipeline.set(key, value, 'KEEPTTL'))
      else {
        const raw = docs[n]
        let doc: Record<string, unknown> = {}
        if (raw.state === 'value') {
          try {
            const parsed = JSON.parse(raw.value) as unknown
            if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) doc = parsed as Record<string, unknown>
          } catch {
            // Not JSON: replaced by a document holding the field.
          }
        }
        // An integer status stays a JSON number when it was one.
        doc[this.field] = typeof doc[this.field] === 'number' && /^-?\d+$/.test(value) ? Number(value) : value
        const text = JSON.stringify(doc)
        if (keep) pipeline.set(key, text, 'KEEPTTL', 'GET')
        else pipeline.set(key, text, 'KEEPTTL')
      }
    }
    const results = await this.exec(() => pipeline.exec())
    const wrong = entries.filter((_e, n) => results[n]?.[0] && WRONGTYPE.test(results[n][0]!.message))
    const other = results.find(([error]) => error && !WRONGTYPE.test(error.message))
    if (other) await this.redis.run(() => Promise.reject(other[0]))
    if (keep || wrong.length === 0) return {left: wrong.map((e) => e.key)}
    // Only a hash write gets here: SET replaces a key of any type.
    const replace = this.client.pipeline()
    for (const {key, value} of wrong) replace.eval(REPLACE_HASH, 1, key, this.field, value)
    await this.exec(() => replace.exec(), true)
    return {left: []}
  }

  async remove(keys: string[]): Promise<void> {
    if (keys.length === 0) return
    const pipeline = this.client.pipeline()
    for (const key of keys) pipeline.del(key)
    await this.exec(() => pipeline.exec(), true)
  }

  private async readRaw(keys: string[]): Promise<CacheRead[]> {
    const pipeline = this.client.pipeline()
    for (const key of keys) pipeline.get(key)
    const results = await this.exec(() => pipeline.exec())
    return results.map(([error, value]) => (error ? {state: 'invalid', reason: 'wrong Redis type'} : value === null ? {state: 'missing'} : {state: 'value', value: String(value)}))
  }

  /** One pipeline result read the configured way. */
  private interpret([error, value]: [Error | null, unknown]): CacheRead {
    if (error) return {state: 'invalid', reason: WRONGTYPE.test(error.message) ? 'wrong Redis type' : `unreadable: ${error.message.slice(0, 60)}`}
    if (value === null || value === undefined) return {state: 'missing'}
    const raw = String(value)
    if (this.format !== 'json') return {state: 'value', value: raw}
    let doc: unknown
    try {
      doc = JSON.parse(raw)
    } catch {
      return {state: 'invalid', reason: 'not JSON'}
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return {state: 'invalid', reason: 'not a JSON object'}
    const field = (doc as Record<string, unknown>)[this.field]
    if (field === undefined || field === null) return {state: 'invalid', reason: `no field ${this.field}`}
    return {state: 'value', value: typeof field === 'string' ? field : JSON.stringify(field)}
  }

  /** Runs a pipeline through the adapter's error mapping; with failOnError, any failed command fails the call. */
  private async exec(run: () => Promise<PipelineResult>, failOnError = false): Promise<[Error | null, unknown][]> {
    const results = (await this.redis.run(run)) ?? []
    if (failOnError) {
      const failed = results.find(([error]) => error)
      if (failed) await this.redis.run(() => Promise.reject(failed[0]))
    }
    return results
  }
}
