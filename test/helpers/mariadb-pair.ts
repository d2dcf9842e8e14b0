import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {cpSync, mkdtempSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mysql from 'mysql2/promise'

/**
 * A private MariaDB primary and replica for one test file: mariadb-install-db into a temporary folder, two free
 * ports, replication set up by the test, everything stopped and removed by stop(). The shared server on 3306 is
 * never touched.
 */
export interface ServerPair {
  primaryPort: number
  replicaPort: number
  /** The pair's own folder (removed by stop()). */
  dir: string
  /** The server process's pid, to read its CPU from /proc. */
  pid(which: 'primary' | 'replica'): number | undefined
  url(which: 'primary' | 'replica', db: string): string
  connect(which: 'primary' | 'replica'): Promise<mysql.Connection>
  /** Stops one server (SIGTERM) and waits for it to exit: a replica that is down. */
  kill(which: 'primary' | 'replica'): Promise<void>
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export async function startServerPair(): Promise<ServerPair> {
  const dir = mkdtempSync(join(tmpdir(), 'msgops-pair-'))
  const children: Partial<Record<'primary' | 'replica', ChildProcess>> = {}
  const ports = {primary: await freePort(), replica: await freePort()}
  const start = async (name: 'primary' | 'replica', extra: string[]) => {
    const child = spawn('mariadbd', ['--no-defaults', `--datadir=${join(dir, name)}`, `--port=${ports[name]}`, '--bind-address=127.0.0.1', `--socket=${join(dir, `${name}.sock`)}`,
      `--pid-file=${join(dir, `${name}.pid`)}`, '--user=root', '--innodb-buffer-pool-size=64M', '--performance-schema=ON', ...extra], {stdio: 'ignore'})
    children[name] = child
    await until(`the ${name} server`, async () => {
      try {
        const c = await mysql.createConnection({host: '127.0.0.1', port: ports[name], user: 'root'})
        await c.end()
        return true
      } catch {
        return false
      }
    }, 30_000)
  }
  const kill = async (name: 'primary' | 'replica') => {
    const child = children[name]
    if (!child || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.on('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))])
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  try {
    execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${join(dir, 'primary')}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], {stdio: 'ignore', timeout: 60_000})
    cpSync(join(dir, 'primary'), join(dir, 'replica'), {recursive: true})
    await start('primary', ['--server-id=1', `--log-bin=${join(dir, 'primary', 'bin')}`])
    await start('replica', ['--server-id=2', '--read-only=ON'])
    const replica = await mysql.createConnection({host: '127.0.0.1', port: ports.replica, user: 'root'})
    await replica.query(`CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${ports.primary}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos`)
    await replica.query('START SLAVE')
    await replica.end()
  } catch (error) {
    await kill('replica')
    await kill('primary')
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  return {
    primaryPort: ports.primary,
    replicaPort: ports.replica,
    dir,
    pid: (which) => children[which]?.pid,
    url: (which, db) => `mysql://root@127.0.0.1:${ports[which]}/${db}`,
    connect: (which) => mysql.createConnection({host: '127.0.0.1', port: ports[which], user: 'root'}),
    kill,
    async stop() {
      await kill('replica')
      await kill('primary')
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** Waits until the replica has applied everything the primary has written (its GTID position). */
export async function caughtUp(primary: mysql.Connection, replica: mysql.Connection, timeoutMs = 30_000): Promise<void> {
  const [rows] = await primary.query('SELECT @@gtid_binlog_pos AS pos')
  const pos = (rows as {pos: string}[])[0].pos
  const [waited] = await replica.query('SELECT MASTER_GTID_WAIT(?, ?) AS r', [pos, timeoutMs / 1000])
  if (Number((waited as {r: number}[])[0].r) !== 0) throw new Error(`the replica did not reach ${pos} within ${timeoutMs} ms`)
}
