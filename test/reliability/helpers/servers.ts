import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, connect as netConnect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * Private MariaDB, RabbitMQ and Redis servers for the tests that crash the servers themselves: each in its own
 * temporary directory, on its own ports (never 3306, 5672, 6379, 15672 or the shared broker's node), started and
 * stopped within bounds, killed -9 and restarted on the same data, and removed at the end (also when the test
 * process exits early). Nothing here touches the machine's shared services.
 */

const RABBIT_SBIN = '/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/sbin'
const SHARED_PORTS = new Set([3306, 5672, 6379, 15672, 25672, 4369])

/** Every process started here, killed when the test process exits however it exits. */
const live = new Set<number>()
process.once('exit', () => {
  for (const pid of live) try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
})

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A free TCP port on 127.0.0.1 in [20000, 45000) (RabbitMQ's CLI uses its node's distribution port + 10000…10010). */
export async function freePort(taken: Set<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000)
    if (taken.has(port) || SHARED_PORTS.has(port) || taken.has(port + 10_000)) continue
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer()
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
    })
    if (free) {
      taken.add(port)
      return port
    }
  }
  throw new Error('no free port found')
}

/** True once something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({host: '127.0.0.1', port})
    socket.setTimeout(1000)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, log?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${log ? `\n${log()}` : ''}`)
    await sleep(100)
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{code: number; out: string}> {
  return new Promise((resolve) => {
    execFile(command, args, {env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024}, (error, stdout, stderr) => {
      resolve({code: error ? Number((error as {code?: unknown}).code) || 1 : 0, out: `${stdout}${stderr}`})
    })
  })
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return `(no ${file})`
  }
}

/** A CA, a server certificate for localhost and 127.0.0.1 and a client certificate, made with openssl for one test. */
export interface Certs {
  dir: string
  ca: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
  /** Another CA, which signed nothing here: trusting it alone must fail the handshake. */
  otherCa: string
}

export async function makeCerts(dir: string): Promise<Certs> {
  mkdirSync(dir, {recursive: true})
  const p = (name: string) => join(dir, name)
  const ssl = async (...args: string[]) => {
    const result = await run('openssl', args, process.env, 30_000)
    if (result.code !== 0) throw new Error(`openssl ${args[0]} failed: ${result.out}`)
  }
  writeFileSync(p('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n')
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=msgops test CA')
  await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('other-ca.key'), '-out', p('other-ca.pem'), '-days', '2', '-subj', '/CN=msgops other CA')
  for (const who of ['server', 'client']) {
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p(`${who}.key`), '-out', p(`${who}.csr`), '-subj', `/CN=${who === 'server' ? 'localhost' : 'msgops'}`)
    await ssl('x509', '-req', '-in', p(`${who}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${who}.pem`), '-days', '2', '-extfile', p(`${who}.ext`))
  }
  return {dir, ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key'), otherCa: p('other-ca.pem')}
}

/** One private server process: started, killed -9 and started again on the same data. */
export abstract class ServerProcess {
  protected child?: ChildProcess
  /** How many times it was started, and how long each start took (ms). */
  readonly starts: number[] = []

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
  ) {}

  protected abstract spawnServer(): ChildProcess
  protected abstract ready(): Promise<boolean>
  protected abstract logFile(): string
  /** The process to kill (RabbitMQ: the Erlang VM, whose pid its pid file holds). */
  pid(): number | undefined {
    return this.child?.pid
  }

  get startTimeoutMs(): number {
    return 60_000
  }

  async start(): Promise<void> {
    const started = Date.now()
    this.child = this.spawnServer()
    if (this.child.pid) live.add(this.child.pid)
    let exited = false
    this.child.once('exit', () => (exited = true))
    await until(`${this.name} to accept connections on port ${this.port}`, async () => {
      if (exited) throw new Error(`${this.name} exited while starting:\n${tail(this.logFile())}`)
      return this.ready()
    }, this.startTimeoutMs, () => tail(this.logFile()))
    const pid = this.pid()
    if (pid) live.add(pid)
    this.starts.push(Date.now() - started)
  }

  /** SIGKILL, as a crash or the OOM killer would: no shutdown, no flush beyond what the server already made durable. */
  async kill9(): Promise<void> {
    const pids = [this.pid(), this.child?.pid].filter((p): p is number => p !== undefined)
    for (const pid of pids) try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
    await until(`${this.name} to die`, () => pids.every((pid) => !alive(pid)), 15_000)
    for (const pid of pids) live.delete(pid)
  }

  async stop(): Promise<void> {
    const pids = [this.pid(), this.child?.pid].filter((p): p is number => p !== undefined && alive(p))
    for (const pid of pids) try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // gone
    }
    await until(`${this.name} to stop`, () => pids.every((pid) => !alive(pid)), 20_000).catch(() => this.kill9())
    for (const pid of pids) live.delete(pid)
  }

  log(): string {
    return tail(this.logFile())
  }
}

export class PrivateMariaDb extends ServerProcess {
  constructor(dir: string, port: number, private readonly certs?: Certs) {
    super('private MariaDB', dir, port)
  }

  /** As root, for the tests: no password, TCP on 127.0.0.1 only. */
  url(database = 'test'): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`
  }

  async install(): Promise<void> {
    const result = await run('mariadb-install-db', ['--no-defaults', `--datadir=${join(this.dir, 'data')}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], process.env, 60_000)
    if (result.code !== 0) throw new Error(`mariadb-install-db failed: ${result.out}`)
  }

  protected spawnServer(): ChildProcess {
    const tls = this.certs ? [`--ssl-ca=${this.certs.ca}`, `--ssl-cert=${this.certs.serverCert}`, `--ssl-key=${this.certs.serverKey}`] : []
    // --no-defaults: the machine's my.cnf (its datadir, port, socket, log) must play no part. InnoDB keeps its default durability.
    return spawn('/usr/sbin/mariadbd', [
      '--no-defaults', '--user=root', `--datadir=${join(this.dir, 'data')}`, `--port=${this.port}`, '--bind-address=127.0.0.1',
      `--socket=${join(this.dir, 'mysqld.sock')}`, `--pid-file=${join(this.dir, 'mysqld.pid')}`, `--log-error=${this.logFile()}`,
      '--innodb-buffer-pool-size=64M', '--skip-name-resolve', '--max-connections=200', ...tls,
    ], {stdio: 'ignore'})
  }

  protected logFile(): string {
    return join(this.dir, 'error.log')
  }

  protected async ready(): Promise<boolean> {
    if (!(await accepts(this.port))) return false
    const result = await run('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${this.port}`, '-uroot', '-e', 'SELECT 1'], process.env, 5000)
    return result.code === 0
  }

  async sql(statement: string): Promise<string> {
    const result = await run('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${this.port}`, '-uroot', '-N', '-B', '-e', statement], process.env, 30_000)
    if (result.code !== 0) throw new Error(`${statement}: ${result.out}`)
    return result.out
  }
}

export class PrivateRedis extends ServerProcess {
  constructor(dir: string, port: number, private readonly certs?: Certs) {
    super('private Redis', dir, port)
  }

  url(): string {
    return `${this.certs ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`
  }

  protected spawnServer(): ChildProcess {
    mkdirSync(this.dir, {recursive: true})
    // With TLS, the plain port is closed: only TLS clients with a certificate signed by the CA get in.
    const ports = this.certs
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', this.certs.serverCert, '--tls-key-file', this.certs.serverKey, '--tls-ca-cert-file', this.certs.ca, '--tls-auth-clients', 'yes']
      : ['--port', String(this.port)]
    // A cache: no persistence, so a restart comes back empty (reconcile then finds the keys missing).
    return spawn('redis-server', [...ports, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--logfile', this.logFile()], {stdio: 'ignore'})
  }

  protected logFile(): string {
    return join(this.dir, 'redis.log')
  }

  protected async ready(): Promise<boolean> {
    if (!(await accepts(this.port))) return false
    const args = ['-p', String(this.port), ...(this.certs ? ['--tls', '--cacert', this.certs.ca, '--cert', this.certs.clientCert, '--key', this.certs.clientKey] : []), 'PING']
    return (await run('redis-cli', args, process.env, 5000)).out.includes('PONG')
  }
}

export interface RabbitOptions {
  certs?: Certs
  management?: boolean
  /** The cookie and CLI home shared by the nodes of one cluster. */
  home: string
}

export class PrivateRabbit extends ServerProcess {
  readonly node: string
  sslPort?: number
  managementPort?: number

  constructor(dir: string, port: number, readonly distPort: number, node: string, private readonly options: RabbitOptions) {
    super(`private RabbitMQ ${node}`, dir, port)
    this.node = `${node}@localhost`
  }

  url(vhost = ''): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}${vhost ? `/${encodeURIComponent(vhost)}` : ''}`
  }

  amqpsUrl(): string {
    return `amqps://guest:guest@localhost:${this.sslPort}`
  }

  managementUrl(): string {
    return `http://guest:guest@127.0.0.1:${this.managementPort}`
  }

  get startTimeoutMs(): number {
    return 90_000
  }

  env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RABBITMQ_') && !k.startsWith('ERL_')) env[k] = v
    return {
      ...env,
      HOME: this.options.home,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_PID_FILE: join(this.dir, 'beam.pid'),
      // Three nodes share two cores with everything else: one scheduler each.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '+S 1:1 +A 8',
    }
  }

  /** Writes its configuration; ports for TLS and the management API are chosen here. */
  async configure(taken: Set<number>): Promise<void> {
    mkdirSync(join(this.dir, 'log'), {recursive: true})
    mkdirSync(this.options.home, {recursive: true})
    const lines = [`listeners.tcp.default = 127.0.0.1:${this.port}`, 'loopback_users = none', 'disk_free_limit.absolute = 50MB', 'log.console = false', 'log.file.level = info']
    if (this.options.certs) {
      this.sslPort = await freePort(taken)
      const c = this.options.certs
      lines.push(`listeners.ssl.default = 127.0.0.1:${this.sslPort}`, `ssl_options.cacertfile = ${c.ca}`, `ssl_options.certfile = ${c.serverCert}`, `ssl_options.keyfile = ${c.serverKey}`, 'ssl_options.verify = verify_peer', 'ssl_options.fail_if_no_peer_cert = true')
    }
    if (this.options.management) {
      this.managementPort = await freePort(taken)
      lines.push(`management.tcp.port = ${this.managementPort}`, 'management.tcp.ip = 127.0.0.1')
    }
    writeFileSync(join(this.dir, 'rabbitmq.conf'), `${lines.join('\n')}\n`)
    writeFileSync(join(this.dir, 'enabled_plugins'), this.options.management ? '[rabbitmq_management].\n' : '[].\n')
  }

  protected spawnServer(): ChildProcess {
    const out = openSync(join(this.dir, 'log', 'console.log'), 'a')
    return spawn(join(RABBIT_SBIN, 'rabbitmq-server'), [], {env: this.env(), stdio: ['ignore', out, out]})
  }

  protected logFile(): string {
    return join(this.dir, 'log', 'console.log')
  }

  pid(): number | undefined {
    const file = join(this.dir, 'beam.pid')
    if (!existsSync(file)) return this.child?.pid
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : this.child?.pid
  }

  async kill9(): Promise<void> {
    await super.kill9()
    rmSync(join(this.dir, 'beam.pid'), {force: true})
  }

  protected async ready(): Promise<boolean> {
    if (!(await accepts(this.port))) return false
    if (this.sslPort && !(await accepts(this.sslPort))) return false
    if (this.managementPort && !(await accepts(this.managementPort))) return false
    return true
  }

  /** rabbitmqctl (or rabbitmq-queues) against this node, bounded. */
  async ctl(args: string[], tool = 'rabbitmqctl', timeoutMs = 60_000): Promise<string> {
    const result = await run(join(RABBIT_SBIN, tool), ['-n', this.node, ...args], this.env(), timeoutMs)
    if (result.code !== 0) throw new Error(`${tool} ${args.join(' ')} on ${this.node}: ${result.out}`)
    return result.out
  }
}

/** A set of private servers under one temporary directory, all stopped and removed by cleanup(). */
export class PrivateServers {
  readonly dir: string
  private readonly servers: ServerProcess[] = []
  private readonly taken = new Set<number>()

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), `${prefix}-`))
  }

  certs(): Promise<Certs> {
    return makeCerts(join(this.dir, 'certs'))
  }

  async mariadb(certs?: Certs): Promise<PrivateMariaDb> {
    const server = new PrivateMariaDb(join(this.dir, `mariadb-${this.servers.length}`), await freePort(this.taken), certs)
    this.servers.push(server)
    await server.install()
    await server.start()
    return server
  }

  async redis(certs?: Certs): Promise<PrivateRedis> {
    const server = new PrivateRedis(join(this.dir, `redis-${this.servers.length}`), await freePort(this.taken), certs)
    this.servers.push(server)
    await server.start()
    return server
  }

  /** One RabbitMQ node (not started). Nodes of one cluster share `home` (their Erlang cookie). */
  async rabbitNode(name: string, options: Partial<RabbitOptions> = {}): Promise<PrivateRabbit> {
    const suffix = `${process.pid}${Math.random().toString(36).slice(2, 6)}`
    const server = new PrivateRabbit(join(this.dir, `rabbit-${name}`), await freePort(this.taken), await freePort(this.taken), `${name}${suffix}`, {home: join(this.dir, 'rabbit-home'), ...options})
    this.servers.push(server)
    await server.configure(this.taken)
    return server
  }

  async rabbit(options: Partial<RabbitOptions> = {}): Promise<PrivateRabbit> {
    const node = await this.rabbitNode('relmq', options)
    await node.start()
    return node
  }

  /** n nodes started side by side, the others joined to the first (rabbitmqctl join_cluster). */
  async rabbitCluster(n: number, options: Partial<RabbitOptions> = {}): Promise<PrivateRabbit[]> {
    const nodes: PrivateRabbit[] = []
    for (let i = 0; i < n; i++) nodes.push(await this.rabbitNode(`relc${i + 1}`, options))
    // The first node makes the cookie; the others start after it, side by side.
    await nodes[0].start()
    await Promise.all(nodes.slice(1).map((node) => node.start()))
    for (const node of nodes.slice(1)) {
      await node.ctl(['stop_app'])
      await node.ctl(['join_cluster', nodes[0].node])
      await node.ctl(['start_app'])
    }
    return nodes
  }

  /** Every server stopped (SIGTERM, then SIGKILL) and the directory removed. */
  async cleanup(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop().catch(() => s.kill9().catch(() => {}))))
    rmSync(this.dir, {recursive: true, force: true})
  }
}
