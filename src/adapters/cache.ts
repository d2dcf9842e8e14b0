import type {Redis} from 'ioredis'

import type {OrderPage} from '../core/reconcile/packed-page.js'
import {cacheKeys} from '../core/reconcile/key-pattern.js'
import type {CachePort, CacheRead} from '../core/reconcile/ports.js'
import type {RedisAdapter} from './redis.js'
import {encodeKeyCommands} from './resp.js'

export type CacheFormat = 'string' | 'hash' | 'json'

type PipelineResult = [error: Error | null, value: unknown][] | null

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
      return keys.map((_key, n) => this.interpret(results[n]))
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
    const nil: number[] = []
    const out: (CacheRead | null)[] = compared as (CacheRead | null)[]
    for (let n = 0; n < compared.length; n++) {
      const c = compared[n]
      if (c === null || c.state === 'value') continue
      if (c.state === 'error') out[n] = this.interpret([new Error(c.message), null])
      else nil.push(n)
    }
    // HGET answers WRONGTYPE itself; MGET answers nil for a key of another type.
    if (!hash) await this.markWrongTypes(nil.map((n) => key(page.id(n))), nil, out)
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

  /** MGET answers nil for a key of another type too: ask those few keys (`keys[j]` is read n = nil[j]) whether they exist at all. */
  private async markWrongTypes(keys: string[], nil: number[], reads: (CacheRead | null)[]): Promise<void> {
    if (nil.length === 0) return
    const pipeline = this.client.pipeline()
    for (const key of keys) pipeline.type(key)
    const types = await this.exec(() => pipeline.exec())
    for (const [j, n] of nil.entries()) {
      const type = types[j][1]
      if (typeof type === 'string' && type !== 'none' && type !== 'string') reads[n] = {state: 'invalid', reason: 'wrong Redis type'}
    }
  }

  async write(entries: {key: string; value: string}[]): Promise<void> {
    if (entries.length === 0) return
    let docs: CacheRead[] = []
    // A JSON document is rewritten field by field, so its other fields survive; one more round trip to read them.
    if (this.format === 'json') docs = await this.readRaw(entries.map((e) => e.key))
    const pipeline = this.client.pipeline()
    for (const [n, {key, value}] of entries.entries()) {
      if (this.format === 'hash') pipeline.hset(key, this.field, value)
      else if (this.format === 'string') pipeline.set(key, value, 'KEEPTTL')
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
        pipeline.set(key, JSON.stringify(doc), 'KEEPTTL')
      }
    }
    await this.exec(() => pipeline.exec(), true)
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
    return results.map(([error, value]) => (error ? {state: 'invalid', reason: 'wrong type'} : value === null ? {state: 'missing'} : {state: 'value', value: String(value)}))
  }

  /** One pipeline result read the configured way. */
  private interpret([error, value]: [Error | null, unknown]): CacheRead {
    if (error) return {state: 'invalid', reason: /WRONGTYPE/.test(error.message) ? 'wrong Redis type' : `unreadable: ${error.message.slice(0, 60)}`}
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
