import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

import {UsageError} from '../core/errors.js'

export interface Listen {
  host: string
  port: number
}

/** --listen as host:port ([v6]:port for IPv6); a bad one is a usage error naming what is wrong. */
export function parseListen(input: string): Listen {
  const match = /^(?:\[([0-9a-f:.]+)\]|([\w.-]+)):(\d{1,5})$/i.exec(input.trim())
  const port = match ? Number(match[3]) : Number.NaN
  if (!match || port > 65_535) throw new UsageError(`--listen ${input} is not an address and port`, 'use HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464')
  return {host: match[1] ?? match[2], port}
}

export interface MetricsHandlers {
  metrics(): Promise<{contentType: string; text: string}>
}

export interface MetricsServer {
  /** The address listened on, as host:port (the real port when 0 was asked). */
  address: string
  close(): Promise<void>
}

/** The HTTP endpoint of metrics serve: GET /metrics, GET /healthz, 404 for anything else. */
export async function listenMetrics(listen: Listen, handlers: MetricsHandlers): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {allow: 'GET, HEAD', 'content-type': 'text/plain'}).end('method not allowed\n')
      return
    }
    if (path === '/healthz') {
      res.writeHead(200, {'content-type': 'text/plain'}).end('ok\n')
      return
    }
    if (path !== '/metrics') {
      res.writeHead(404, {'content-type': 'text/plain'}).end('not found: try /metrics or /healthz\n')
      return
    }
    handlers.metrics().then(
      ({contentType, text}) => void res.writeHead(200, {'content-type': contentType}).end(req.method === 'HEAD' ? undefined : text),
      (error: Error) => void res.writeHead(500, {'content-type': 'text/plain'}).end(`${error.message}\n`),
    )
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `--listen ${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`
      if (error.code === 'EADDRINUSE') reject(new UsageError(`${where}: the port is in use`, 'choose another port, or stop what listens there'))
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') reject(new UsageError(`${where}: no such address on this machine`, 'use an address of this machine, e.g. 127.0.0.1 or 0.0.0.0'))
      else if (error.code === 'EACCES') reject(new UsageError(`${where}: not allowed to listen there`, 'use a port above 1023'))
      else reject(new UsageError(`${where}: cannot listen: ${error.code ?? error.message}`))
    })
    server.listen(listen.port, listen.host, () => resolve())
  })
  const address = server.address() as AddressInfo
  return {
    address: `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
        // A scrape in hand gets a moment to finish; then every connection goes.
        setTimeout(() => server.closeAllConnections(), 1000).unref()
      }),
  }
}
