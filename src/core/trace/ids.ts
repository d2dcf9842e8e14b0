import {UsageError} from '../errors.js'

/** Longer than any id column msgops knows (VARCHAR(191) at most in an index): a line this long is not an id. */
export const MAX_ID_BYTES = 1024

/**
 * The ids of an ids file, one per line, streamed: blank lines and lines starting with # are skipped, spaces around an
 * id trimmed, CRLF accepted. A line that is not UTF-8 or too long is a UsageError naming the line; a file without a
 * single id is one too. Only the line in hand is buffered, whatever the file's size.
 */
export async function* readIds(chunks: AsyncIterable<Buffer | string>, source: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', {fatal: true})
  let pending: Buffer = Buffer.alloc(0)
  let line = 0
  let found = 0
  const parse = (bytes: Buffer): string | undefined => {
    line++
    if (bytes.length > MAX_ID_BYTES) throw new UsageError(`${source} line ${line} is ${bytes.length} bytes long: not an id`, `put one id per line (at most ${MAX_ID_BYTES} bytes)`)
    let text: string
    try {
      text = decoder.decode(bytes)
    } catch {
      throw new UsageError(`${source} line ${line} is not UTF-8 text`, 'save the ids file as UTF-8, one id per line')
    }
    const id = text.replace(/^\uFEFF/, '').trim()
    if (id === '' || id.startsWith('#')) return undefined
    found++
    return id
  }
  for await (const chunk of chunks) {
    let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'utf8')
    if (pending.length > 0) data = Buffer.concat([pending, data])
    let start = 0
    for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
      const id = parse(data.subarray(start, nl))
      start = nl + 1
      if (id !== undefined) yield id
    }
    pending = Buffer.from(data.subarray(start))
    if (pending.length > MAX_ID_BYTES) parse(pending)
  }
  if (pending.length > 0) {
    const id = parse(pending)
    if (id !== undefined) yield id
  }
  if (found === 0) throw new UsageError(`${source} holds no ids`, 'put one order id or message id per line')
}
