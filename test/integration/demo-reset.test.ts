import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import amqp from 'amqplib'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, RUN_JS, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'
import {closeTerminals, openShell} from '../helpers/terminal.js'

const DLQ = 'order_queue.dlq'

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let cwd: string
let env: Record<string, string>

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase(), createTestVhost(), createTestRedis()] as const)
  cwd = mkdtempSync(join(tmpdir(), 'msgops-demo-reset-'))
  writeFileSync(join(cwd, 'msgops.yaml'), `cache:\n  keyPattern: "${redis.prefix}order:{id}"\n`)
  env = cliEnv({db, vhost, redis})
})

afterAll(async () => {
  closeTerminals()
  if (cwd) rmSync(cwd, {recursive: true, force: true})
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
})

interface DemoJson {
  injected: {dead_lettered: number}
  reset?: {queue: string; removed: number; kept: number}[]
}

async function demo(args: string[]): Promise<DemoJson> {
  const result = await runCli(['demo', '--orders', '300', '--fault-rate', '0.05', '--seed', '3', '--yes', '--json', ...args], {env, cwd, timeoutMs: 180_000})
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as DemoJson
}

/** Every message of the queue in order, by basic.get without ack; the channel's close puts them all back. */
async function messageIds(queue: string): Promise<(string | undefined)[]> {
  const conn = await amqp.connect(vhost.amqpUrl)
  try {
    const ch = await conn.createChannel()
    const ids: (string | undefined)[] = []
    for (;;) {
      const msg = await ch.get(queue, {noAck: false})
      if (msg === false) break
      ids.push(msg.properties.messageId as string | undefined)
    }
    await ch.close()
    return ids
  } finally {
    await conn.close()
  }
}

describe('demo --reset', () => {
  it('removes only the demo messages: foreign messages in order_queue.dlq survive, in their order', async () => {
    const first = await demo([])
    expect(first.injected.dead_lettered).toBeGreaterThan(0)

    // Messages that are not the demo's, one of them without a message id, with a demo message in between.
    const conn = await amqp.connect(vhost.amqpUrl)
    const ch = await conn.createConfirmChannel()
    for (const [id, body] of [['foreign-1', 'a'], ['demo-m-stray', '{"orderId":"demo-stray"}'], ['foreign-2', 'b'], [undefined, 'c']] as const)
      ch.sendToQueue(DLQ, Buffer.from(body), {messageId: id, persistent: true})
    await ch.waitForConfirms()
    await conn.close()
    expect((await messageIds(DLQ)).length).toBe(first.injected.dead_lettered + 4)

    const second = await demo(['--reset'])
    expect(second.reset).toEqual([
      {queue: 'order_queue', removed: 0, kept: 0},
      {queue: DLQ, removed: first.injected.dead_lettered + 1, kept: 3},
    ])
    const ids = await messageIds(DLQ)
    // The three foreign messages first, as they were; then only what the second demo dead-lettered.
    expect(ids.slice(0, 3)).toEqual(['foreign-1', 'foreign-2', undefined])
    expect(ids.length).toBe(3 + second.injected.dead_lettered)
    for (const id of ids.slice(3)) expect(id).toMatch(/^demo-m-3-/)
  })
})

describe('demo prompt', () => {
  it('declining in a terminal changes nothing, says so on stderr and exits 0', async () => {
    const [ownDb, ownVhost] = await makeAll([createTestDatabase(), createTestVhost()] as const)
    const dir = mkdtempSync(join(tmpdir(), 'msgops-decline-'))
    const script = join(dir, 'run.sh')
    const exports = Object.entries({...cliEnv({db: ownDb, vhost: ownVhost, redis}), NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent-msgops-test'})
      .map(([k, v]) => `export ${k}='${v}'`)
      .join('\n')
    // stdout to a file: what stays on the terminal is stderr (the prompt needs stdin and stderr to be the terminal).
    writeFileSync(script, `${exports}\ncd '${cwd}'\n'${process.execPath}' '${RUN_JS}' demo --orders 10 >'${dir}/stdout'\necho "exit=$?"\nsleep 60\n`)
    const terminal = openShell(`bash '${script}'`)
    try {
      await terminal.waitFor(/Write 10 demo orders/)
      terminal.keys('n', 'Enter')
      await terminal.waitFor(/^exit=\d+ *$/m)
      expect(terminal.screen()).toMatch(/^exit=0 *$/m)
      expect(terminal.screen()).toMatch(/^cancelled: nothing was changed *$/m)
      expect(terminal.screen()).not.toMatch(/Error/)
      expect(readFileSync(`${dir}/stdout`, 'utf8')).toBe('')
      // Nothing was written: not even the schema.
      const c = await mysql.createConnection(ownDb.url)
      const [tables] = await c.query('SHOW TABLES')
      await c.end()
      expect(tables).toEqual([])
    } finally {
      terminal.close()
      rmSync(dir, {recursive: true, force: true})
      await Promise.all([ownDb.drop(), ownVhost.drop()])
    }
  })
})
