import net from 'node:net'

export interface CutProxy {
  /** The 127.0.0.1 ephemeral port msgops connects to instead of the real service. */
  port: number
  /** Bytes forwarded from the server to the client so far (to cut "in the middle" of real work). */
  readonly fromServer: number
  /** Connections accepted so far. */
  readonly accepted: number
  /**
   * Cuts every connection and refuses new ones.
   * 'reset': both sides see the socket destroyed (a crashed server, a dropped NAT entry).
   * 'silent': sockets stay open but nothing is forwarded any more (a network partition): only timeouts can notice.
   */
  cut(mode?: 'reset' | 'silent'): void
  /** Resolves once fromServer reaches the given count, or rejects after timeoutMs. */
  waitForBytes(count: number, timeoutMs: number): Promise<void>
  close(): Promise<void>
}

/** A TCP proxy on 127.0.0.1 in front of a real service on 127.0.0.1:targetPort, that a test can cut. */
export async function startProxy(targetPort: number): Promise<CutProxy> {
  const pairs = new Set<{client: net.Socket; server: net.Socket}>()
  let fromServer = 0
  let accepted = 0
  let state: 'open' | 'reset' | 'silent' = 'open'
  const server = net.createServer((client) => {
    accepted++
    if (state === 'reset') return client.destroy()
    if (state === 'silent') {
      // Accept and never answer.
      client.on('error', () => {})
      pairs.add({client, server: client})
      return
    }
    const upstream = net.connect({host: '127.0.0.1', port: targetPort})
    const pair = {client, server: upstream}
    pairs.add(pair)
    client.on('error', () => {})
    upstream.on('error', () => {})
    client.on('data', (chunk) => {
      if (state === 'open') upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (state !== 'open') return
      fromServer += chunk.length
      client.write(chunk)
    })
    const end = () => {
      if (state === 'silent') return
      client.destroy()
      upstream.destroy()
      pairs.delete(pair)
    }
    client.on('close', end)
    upstream.on('close', end)
  })
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    get fromServer() {
      return fromServer
    },
    get accepted() {
      return accepted
    },
    cut(mode = 'reset') {
      state = mode
      if (mode === 'reset') {
        for (const pair of pairs) {
          pair.client.resetAndDestroy()
          pair.server.destroy()
        }
        pairs.clear()
      }
    },
    waitForBytes(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      return new Promise((resolve, reject) => {
        const check = () => {
          if (fromServer >= count) return resolve()
          if (Date.now() > deadline) return reject(new Error(`proxy to :${targetPort} saw only ${fromServer} of ${count} bytes within ${timeoutMs} ms`))
          setTimeout(check, 20)
        }
        check()
      })
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy()
        pair.server.destroy()
      }
      pairs.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
