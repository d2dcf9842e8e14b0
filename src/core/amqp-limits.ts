import type {OutgoingMessage} from './ports.js'

/** AMQP 0-9-1 short strings (exchange, routing key, most properties, header keys) hold at most 255 bytes. */
export const SHORT_STRING_BYTES = 255
/** amqplib encodes a message's headers table in one 64 KiB buffer; a larger table throws inside the publish. */
export const HEADERS_TABLE_BYTES = 65_536

const SHORT_PROPERTIES = ['messageId', 'type', 'contentType', 'contentEncoding', 'correlationId', 'replyTo', 'expiration', 'userId', 'appId'] as const

/**
 * Why the broker or the client would refuse to publish this message, or null when it can go: checked before a publish,
 * so that one bad row or dead letter is set aside alone instead of failing (or closing the channel of) its whole batch.
 * Lengths are bytes of UTF-8, not characters.
 *
 * | field                                             | limit                                          |
 * | ------------------------------------------------- | ---------------------------------------------- |
 * | exchange, routing key                             | 255 bytes (short string)                        |
 * | messageId, type, contentType, contentEncoding,    | 255 bytes each (short string)                   |
 * | correlationId, replyTo, expiration, userId, appId |                                                |
 * | a header name, at any depth                       | 255 bytes (short string)                        |
 * | a header value                                    | string, number, boolean, null, array or table   |
 * | the headers table, encoded                        | 65,536 bytes (amqplib's encoding buffer)        |
 */
export function publishLimitError(message: OutgoingMessage): string | null {
  const long = (what: string, text: string) => {
    const bytes = Buffer.byteLength(text)
    return bytes > SHORT_STRING_BYTES ? `${what} is ${bytes} bytes, above AMQP's ${SHORT_STRING_BYTES}-byte limit for a short string` : null
  }
  const fields = long('the exchange name', message.exchange) ?? long('the routing key', message.routingKey)
  if (fields) return fields
  for (const name of SHORT_PROPERTIES) {
    const value = message.properties[name]
    if (typeof value === 'string') {
      const error = long(`the ${name} property`, value)
      if (error) return error
    }
  }
  if (!message.properties.headers) return null
  const size = tableSize(message.properties.headers, {key: 'headers'})
  if (typeof size === 'string') return size
  return size > HEADERS_TABLE_BYTES ? `the headers encode to ${size} bytes, above the ${HEADERS_TABLE_BYTES}-byte limit of a headers table` : null
}

/**
 * Where a header value sits (headers.x-death[0].queue), built only for an error: every message's headers are walked,
 * and a path string per field cost the replay more than the rest of this check (CPU profile, bench replay --core).
 */
interface Where {
  parent?: Where
  key: string | number
}

function pathOf(where: Where): string {
  const up = where.parent ? pathOf(where.parent) : ''
  return typeof where.key === 'number' ? `${up}[${where.key}]` : up === '' ? where.key : `${up}.${where.key}`
}

/** The encoded size of a field table as amqplib writes it, or why it cannot be written. */
function tableSize(table: Record<string, unknown>, where: Where): number | string {
  let size = 4
  for (const key in table) {
    if (!Object.hasOwn(table, key)) continue
    const value = table[key]
    if (value === undefined) continue
    const keyBytes = Buffer.byteLength(key)
    if (keyBytes > SHORT_STRING_BYTES) return `the header name ${pathOf(where)}.${key.slice(0, 40)}… is ${keyBytes} bytes, above AMQP's ${SHORT_STRING_BYTES}-byte limit for a short string`
    const valueSize = fieldSize(value, where, key)
    if (typeof valueSize === 'string') return valueSize
    size += 1 + keyBytes + valueSize
  }
  return size
}

function fieldSize(value: unknown, parent: Where, key: string | number): number | string {
  if (value === null) return 1
  if (typeof value === 'string') return 5 + Buffer.byteLength(value)
  if (typeof value === 'boolean') return 2
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Math.abs(value) >= 0x4000000000000) return 9
    if (value >= -128 && value < 128) return 2
    if (value >= -0x8000 && value < 0x8000) return 3
    return value >= -0x80000000 && value < 0x80000000 ? 5 : 9
  }
  if (Buffer.isBuffer(value)) return 5 + value.length
  if (Array.isArray(value)) {
    const where = {parent, key}
    let size = 5
    for (let i = 0; i < value.length; i++) {
      const itemSize = fieldSize(value[i], where, i)
      if (typeof itemSize === 'string') return itemSize
      size += itemSize
    }
    return size
  }
  if (typeof value === 'object') {
    const size = tableSize(value as Record<string, unknown>, {parent, key})
    return typeof size === 'string' ? size : 1 + size
  }
  return `the header ${pathOf({parent, key})} holds a ${typeof value}, which AMQP cannot carry`
}
