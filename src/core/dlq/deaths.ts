import {createHash} from 'node:crypto'

import {fingerprint} from '../fingerprint.js'
import type {DeadLetter} from './ports.js'

export const REPLAY_COUNT_HEADER = 'x-msgops-replay-count'
export const REPLAYED_AT_HEADER = 'x-msgops-replayed-at'
export const KNOWN_REASONS = ['rejected', 'expired', 'maxlen', 'delivery_limit'] as const

/** One entry of the x-death header: RabbitMQ keeps one per (queue, reason), newest first. */
export interface Death {
  reason: string
  queue: string
  exchange: string
  routingKeys: string[]
  count: number
  time?: Date
}

/** What msgops needs to know about one dead letter, read from its properties and headers. */
export interface DeadLetterFacts {
  messageId?: string
  /** The first death: where the message originally went and why it died. */
  reason: string
  queue: string
  exchange?: string
  routingKey?: string
  /** Newest death time seen in x-death (second precision), else the message timestamp. */
  diedAt?: Date
  deaths: number
  error?: string
  replayCount: number
  /** Short stable id of the group (first death reason, queue, exchange, routing key, error). */
  group: string
  /** The failure's fingerprint (core/fingerprint.ts): the error's pattern, routing key, reason and queue; ids do not split it. */
  fingerprint: string
}

/** Text of a header value: strings as they are, byte arrays as UTF-8, numbers and booleans printed. */
export function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (typeof value === 'object' && '!' in value && 'value' in value) return headerText((value as {value: unknown}).value)
  return JSON.stringify(jsonSafe(value))
}

function headerTime(value: unknown): Date | undefined {
  let seconds: unknown = value
  if (value instanceof Date) return value
  if (value && typeof value === 'object' && 'value' in value) seconds = (value as {value: unknown}).value
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined
}

/** Parses x-death; anything malformed is skipped rather than trusted. */
export function readDeaths(headers: Record<string, unknown> | undefined): Death[] {
  const raw = headers?.['x-death']
  if (!Array.isArray(raw)) return []
  const deaths: Death[] = []
  for (const entry of raw) {
    if (!entry || typeof entry !== 'object') continue
    const e = entry as Record<string, unknown>
    const keys = Array.isArray(e['routing-keys']) ? (e['routing-keys'] as unknown[]).map((k) => headerText(k) ?? '') : []
    deaths.push({
      reason: headerText(e.reason) ?? 'unknown',
      queue: headerText(e.queue) ?? '',
      exchange: headerText(e.exchange) ?? '',
      routingKeys: keys,
      count: typeof e.count === 'number' ? e.count : Number(headerText(e.count) ?? 1) || 1,
      time: headerTime(e.time),
    })
  }
  return deaths
}

/** The first death: the entry named by x-first-death-queue/-reason, else the oldest (last) entry. */
export function firstDeath(headers: Record<string, unknown> | undefined, deaths = readDeaths(headers)): Death | undefined {
  if (deaths.length === 0) return undefined
  const queue = headerText(headers?.['x-first-death-queue'])
  const reason = headerText(headers?.['x-first-death-reason'])
  return deaths.find((d) => d.queue === queue && d.reason === reason) ?? deaths.at(-1)
}

/** The first line of the first error header present, cut so that stack traces group together. */
export function errorText(headers: Record<string, unknown> | undefined, names: string[]): string | undefined {
  return fullErrorText(headers, names)?.split('\n')[0].slice(0, 200)
}

/** The whole text of the first error header present (the fingerprint reads its head itself). */
function fullErrorText(headers: Record<string, unknown> | undefined, names: string[]): string | undefined {
  for (const name of names) {
    const text = headerText(headers?.[name])?.trim()
    if (text) return text
  }
  return undefined
}

export function replayCountOf(headers: Record<string, unknown> | undefined): number {
  const n = Number(headerText(headers?.[REPLAY_COUNT_HEADER]) ?? 0)
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0
}

/** Recent keys: a queue holds few groups and hashing every message costs more than the rest of its handling. */
const keyCache = new Map<string, string>()

export function groupKey(parts: {reason: string; queue: string; exchange?: string; routingKey?: string; error?: string}): string {
  const text = JSON.stringify([parts.reason, parts.queue, parts.exchange ?? null, parts.routingKey ?? null, parts.error ?? null])
  let key = keyCache.get(text)
  if (key === undefined) {
    key = createHash('sha1').update(text).digest('hex').slice(0, 8)
    if (keyCache.size >= 10_000) keyCache.clear()
    keyCache.set(text, key)
  }
  return key
}

export function describeLetter(letter: DeadLetter, errorHeaders: string[]): DeadLetterFacts {
  const headers = letter.properties.headers
  const deaths = readDeaths(headers)
  const first = firstDeath(headers, deaths)
  const times = deaths.map((d) => d.time?.getTime()).filter((t): t is number => t !== undefined)
  const fallback = headerTime(letter.properties.timestamp)
  const parts = {
    reason: first?.reason ?? 'none',
    queue: first?.queue ?? '',
    exchange: first?.exchange,
    routingKey: first?.routingKeys[0],
    error: errorText(headers, errorHeaders),
  }
  return {
    messageId: letter.properties.messageId === undefined ? undefined : String(letter.properties.messageId),
    ...parts,
    diedAt: times.length > 0 ? new Date(Math.max(...times)) : fallback,
    deaths: deaths.reduce((n, d) => n + d.count, 0),
    replayCount: replayCountOf(headers),
    group: groupKey(parts),
    fingerprint: fingerprint({error: fullErrorText(headers, errorHeaders), subject: parts.routingKey, reason: parts.reason, queue: parts.queue}),
  }
}

/** A header table as JSON: byte arrays as UTF-8 text, typed values ({'!': 'timestamp', value}) as their value. */
export function jsonSafe(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  if (Array.isArray(value)) return value.map((v) => jsonSafe(v))
  if (typeof value === 'bigint') return value.toString()
  if (value && typeof value === 'object') {
    if ('!' in value && 'value' in value) {
      const typed = value as {'!': string; value: unknown}
      return typed['!'] === 'timestamp' ? headerTime(typed)?.toISOString() ?? typed.value : jsonSafe(typed.value)
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]))
  }
  return value
}

/** A body for display: UTF-8 text when it is printable text, else base64; cut to max characters. */
export function bodyPreview(body: Buffer, max: number): {text: string; encoding: 'utf8' | 'base64'; truncated: boolean} {
  const text = body.toString('utf8')
  const utf8 = Buffer.from(text, 'utf8').equals(body) && !/[\u0000-\u0008\u000E-\u001F\u007F]/.test(text)
  const shown = utf8 ? text : body.toString('base64')
  return {text: shown.length > max ? shown.slice(0, max) : shown, encoding: utf8 ? 'utf8' : 'base64', truncated: shown.length > max}
}
