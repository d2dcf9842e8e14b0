import {connect as netConnect, type Socket} from 'node:net'
import {connect as tlsConnect, type ConnectionOptions} from 'node:tls'

import {cacheKeys, patternParts} from '../core/reconcile/key-pattern.js'

/**
 * A minimal RESP2 connection for one hot path of reconcile: a page of cache values is read (MGET, or pipelined HGET)
 * and each value compared with its expected bytes where it lies in the socket buffer. ioredis turns every value
 * into a Buffer or string first; on a million keys that is most of reconcile's client CPU (measured: 1.1 CPU-s
 * with mgetBuffer, 0.4 s here). Every other Redis call goes through ioredis.
 */

/** One value compared: null when it holds exactly the expected bytes. */
export type Compared = null | {state: 'missing'} | {state: 'value'; value: string} | {state: 'error'; message: string}

const CR = 13
const LF = 10
const DOLLAR = 36
const STAR = 42
const MINUS = 45
const PLUS = 43
const COLON = 58

/** Where the line after a type byte at `pos` ends (its CR; the next element starts 2 bytes later), or -1 when the buffer ends first. */
function lineEnd(buf: Buffer, pos: number): number {
  // A loop, not buf.indexOf: the lines are a few bytes, and a native call per reply cost more than the search.
  for (let i = pos + 1; i + 1 < buf.length; i++) if (buf[i] === CR) return i
  return -1
}

/** The signed integer written in buf[from, to). */
function intAt(buf: Buffer, from: number, to: number): number {
  let n = 0
  let sign = 1
  for (let i = from; i < to; i++) {
    const c = buf[i]
    if (c === MINUS) sign = -1
    else n = n * 10 + c - 48
  }
  return sign * n
}

/** buf[start, start + want.length) holds exactly want. */
function sameBytes(buf: Buffer, start: number, length: number, want: Buffer): boolean {
  if (length !== want.length) return false
  for (let i = 0; i < length; i++) if (buf[start + i] !== want[i]) return false
  return true
}

/**
 * The replies of one request, read as they arrive in chunks cut anywhere: `expected.length` replies, inside one
 * array (MGET) or one per command (a pipeline). A bulk string equal to its expected bytes gives null; with no
 * expectation (null) every value is read.
 */
export class CompareReader {
  readonly out: Compared[] = []
  /** Set when the whole request failed (an error instead of MGET's array). */
  failed: string | null = null
  private header: boolean

  constructor(
    private readonly expected: (Buffer | null)[],
    array: boolean,
  ) {
    this.header = array
  }

  get done(): boolean {
    return this.failed !== null || this.out.length === this.expected.length
  }

  /** Reads every complete reply in buf from pos and returns where the first incomplete one starts. */
  feed(buf: Buffer, pos: number): number {
    while (!this.done && pos < buf.length) {
      const type = buf[pos]
      const end = lineEnd(buf, pos)
      if (end < 0) return pos
      const next = end + 2
      if (this.header) {
        if (type === MINUS) this.failed = buf.toString('utf8', pos + 1, end)
        else if (type !== STAR || intAt(buf, pos + 1, end) !== this.expected.length) throw new Error('unexpected reply from Redis (not an array of the keys asked)')
        this.header = false
        pos = next
        continue
      }
      if (type === DOLLAR) {
        const length = intAt(buf, pos + 1, end)
        if (length < 0) {
          this.out.push({state: 'missing'})
          pos = next
          continue
        }
        if (next + length + 2 > buf.length) return pos
        const want = this.expected[this.out.length]
        this.out.push(want !== null && sameBytes(buf, next, length, want) ? null : {state: 'value', value: buf.toString('utf8', next, next + length)})
        pos = next + length + 2
      } else if (type === MINUS) {
        this.out.push({state: 'error', message: buf.toString('utf8', pos + 1, end)})
        pos = next
      } else if (type === PLUS || type === COLON) {
        this.out.push({state: 'value', value: buf.toString('utf8', pos + 1, end)})
        pos = next
      } else throw new Error(`unexpected reply type ${JSON.stringify(String.fromCharCode(type))} from Redis`)
    }
    return pos
  }
}

/**
 * The bytes of commands in RESP: each command is a list of arguments. ASCII keys (the usual case) are measured by
 * their length; a single Buffer.from tells whether any was not.
 */
export function encodeCommands(commands: string[][]): Buffer {
  const build = (size: (s: string) => number) => {
    let text = ''
    for (const args of commands) {
      text += `*${args.length}\r\n`
      for (const arg of args) text += `$${size(arg)}\r\n${arg}\r\n`
    }
    return text
  }
  const text = build((s) => s.length)
  const bytes = Buffer.from(text, 'utf8')
  return bytes.length === text.length ? bytes : Buffer.from(build((s) => Buffer.byteLength(s, 'utf8')), 'utf8')
}

const CRLF = Buffer.from('\r\n')

/** Fragments shorter than this are copied byte by byte: cheaper than a native copy call per key. */
const SHORT = 64

function put(buf: Buffer, pos: number, bytes: Buffer): number {
  if (bytes.length >= SHORT) return pos + bytes.copy(buf, pos)
  for (let i = 0; i < bytes.length; i++) buf[pos + i] = bytes[i]
  return pos + bytes.length
}

/** Ids packed in one string: id n is text[start[n], end[n]). */
export interface PackedIds {
  text: string
  start: ArrayLike<number>
  end: ArrayLike<number>
}

/**
 * The bytes of commands over a page of keys made from a pattern (every `{id}` replaced by the id), written straight
 * into one buffer: a million keys cost no string each (building the text first was 145 MB of garbage per million).
 * `each`: one command per key, `[...before, key, ...after]` (pipelined HGET); otherwise one command
 * `[...before, ...keys]` (MGET). Ids that are not all ASCII take the plain way.
 */
export function encodeKeyCommands(before: string[], pattern: string, ids: PackedIds, after: string[], each: boolean): Buffer {
  const {text, start, end} = ids
  const count = start.length
  const parts = patternParts(pattern).map((p) => Buffer.from(p, 'utf8'))
  const fixed = parts.reduce((sum, p) => sum + p.length, 0)
  const uses = parts.length - 1
  const args = (list: string[]) => encodeCommands([list]).subarray(`*${list.length}\r\n`.length)
  const head = each ? Buffer.alloc(0) : Buffer.concat([Buffer.from(`*${before.length + count}\r\n`), args(before)])
  const open = each ? Buffer.concat([Buffer.from(`*${before.length + 1 + after.length}\r\n`), args(before)]) : Buffer.alloc(0)
  const close = each ? args(after) : Buffer.alloc(0)
  // What follows each id: the pattern's next part, and after the last one the end of the argument and the command.
  const tails = parts.slice(1).map((p, n) => (n === uses - 1 ? Buffer.concat([p, CRLF, close]) : p))
  let idChars = 0
  for (let n = 0; n < count; n++) idChars += end[n] - start[n]
  // Per key: the command's start, `$<length>\r\n` (16 bytes at most), the pattern, CRLF and the command's end.
  const buf = Buffer.allocUnsafe(head.length + count * (open.length + 16 + fixed + CRLF.length + close.length) + uses * idChars)
  let pos = put(buf, 0, head)
  // The bytes before an id (the command's start, the argument's length, the pattern's first part) depend only on the
  // id's length: written once per length, then copied from there in one native call (a byte loop was 40% slower).
  let leadFor = -1
  let leadAt = 0
  let leadLength = 0
  for (let n = 0; n < count; n++) {
    const from = start[n]
    const to = end[n]
    if (to - from === leadFor) {
      buf.copyWithin(pos, leadAt, leadAt + leadLength)
      pos += leadLength
    } else {
      leadFor = to - from
      const lead = Buffer.concat([open, Buffer.from(`$${fixed + uses * leadFor}\r\n`), parts[0]])
      leadAt = pos
      leadLength = lead.length
      pos = put(buf, pos, lead)
    }
    for (let t = 0; t < tails.length; t++) {
      for (let i = from; i < to; i++) {
        const c = text.charCodeAt(i)
        if (c > 0x7f) return encodeCommands(plainCommands(before, pattern, ids, after, each))
        buf[pos++] = c
      }
      const tail = tails[t]
      for (let i = 0; i < tail.length; i++) buf[pos++] = tail[i]
    }
  }
  return buf.subarray(0, pos)
}

function plainCommands(before: string[], pattern: string, ids: PackedIds, after: string[], each: boolean): string[][] {
  const key = cacheKeys(pattern)
  const keys = Array.from({length: ids.start.length}, (_x, n) => key(ids.text.slice(ids.start[n], ids.end[n])))
  return each ? keys.map((key) => [...before, key, ...after]) : [[...before, ...keys]]
}

/** Where the server is: the options ioredis resolved from the URL. */
export interface RespTarget {
  host?: string
  port?: number
  path?: string | null
  family?: number
  username?: string | null
  password?: string | null
  db?: number
  tls?: boolean | ConnectionOptions
}

interface Pending {
  reader: CompareReader
  resolve: (out: Compared[]) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

export class RespConnection {
  private readonly pending: Pending[] = []
  private rest: Buffer | null = null
  private broken: Error | null = null

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.fail(error))
    socket.on('close', () => this.fail(new Error('Connection is closed.')))
  }

  /** Connects, authenticates and selects the database as ioredis would. */
  static async open(target: RespTarget, timeoutMs: number): Promise<RespConnection> {
    const where = target.path ? {path: target.path} : {host: target.host ?? '127.0.0.1', port: target.port ?? 6379, ...(target.family ? {family: target.family} : {})}
    const socket = target.tls ? tlsConnect({...where, ...(typeof target.tls === 'object' ? target.tls : {})}) : netConnect(where)
    socket.setNoDelay(true)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`connect ETIMEDOUT (no answer within ${timeoutMs} ms)`))
      }, timeoutMs)
      socket.once(target.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve()
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
    const connection = new RespConnection(socket, timeoutMs)
    const setup: string[][] = []
    if (target.password) setup.push(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password])
    if (target.db) setup.push(['SELECT', String(target.db)])
    if (setup.length > 0) {
      const replies = await connection.send(encodeCommands(setup), new CompareReader(setup.map(() => null), false)).catch((error: Error) => {
        connection.close()
        throw error
      })
      const refused = replies.find((r) => r?.state === 'error')
      if (refused?.state === 'error') {
        connection.close()
        throw new Error(refused.message)
      }
    }
    return connection
  }

  /** Sends the bytes of a request and resolves with what the reader read of its replies; requests are answered in order. */
  send(bytes: Buffer, reader: CompareReader): Promise<Compared[]> {
    if (this.broken) return Promise.reject(this.broken)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`Command timed out after ${this.timeoutMs} ms`)), this.timeoutMs)
      this.pending.push({reader, resolve, reject, timer})
      this.socket.write(bytes)
    })
  }

  close(): void {
    this.broken ??= new Error('Connection is closed.')
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    // Only an element cut by the previous chunk's end is carried over, so this copies a few bytes, not the reply.
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk
    let pos = 0
    this.rest = null
    try {
      while (this.pending.length > 0 && pos < buf.length) {
        const head = this.pending[0]
        pos = head.reader.feed(buf, pos)
        if (!head.reader.done) break
        this.pending.shift()
        clearTimeout(head.timer)
        if (head.reader.failed !== null) head.reject(new Error(head.reader.failed))
        else head.resolve(head.reader.out)
      }
    } catch (error) {
      this.fail(error as Error)
      return
    }
    if (pos < buf.length) this.rest = Buffer.from(buf.subarray(pos))
  }

  private fail(error: Error): void {
    this.broken ??= error
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer)
      p.reject(error)
    }
    this.socket.destroy()
  }
}
