import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, RUN_JS, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'
import {closeTerminals, openShell, shellQuote, type Terminal} from '../helpers/terminal.js'

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let conn: mysql.Connection
let env: Record<string, string>
let topologyFile: string

const TOPOLOGY = `exchanges:
  - {name: orders.x, type: topic}
  - {name: orders.dlx, type: fanout}
queues:
  - {name: orders.q, arguments: {deadLetterExchange: orders.dlx}}
  - {name: orders.dlq}
  - {name: billing.q}
  - {name: shipping.q}
  - {name: audit.q}
bindings:
  - {source: orders.x, destination: orders.q, routingKey: "order.#"}
  - {source: orders.dlx, destination: orders.dlq, routingKey: ""}
`

/** An interactive bash in a terminal with only the test's environment: msgops is started in it, and it is used after. */
function shell(size: {width: number; height: number}): Terminal {
  const vars = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', XDG_CONFIG_HOME: '/nonexistent-msgops-test', TERM: 'xterm-256color', PS1: '$ ', ...env}
  return openShell(`cd /tmp && env -i ${Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')} bash --norc --noprofile -i`, size)
}

const top = `${shellQuote(process.execPath)} ${shellQuote(RUN_JS)} top --interval 1s --timeout 5s`

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase('msgops_toptty'), createTestVhost('msgops_toptty'), createTestRedis('msgops_toptty')] as const)
  env = cliEnv({db, vhost, redis})
  topologyFile = join('/tmp', `${db.name}.yaml`)
  writeFileSync(topologyFile, TOPOLOGY)
  expect((await runCli(['topology', 'apply', topologyFile, '--yes'], {env})).code).toBe(0)
  expect((await runCli(['schema', 'init'], {env})).code).toBe(0)
  conn = await mysql.createConnection(db.url)
  await conn.query("INSERT INTO outbox (id, payload, status, last_error) VALUES ('p1', '{}', 'pending', NULL), ('p2', '{}', 'pending', NULL), ('d1', '{}', 'dead_letter', 'broker returned 312 NO_ROUTE')")
})

afterAll(async () => {
  closeTerminals()
  await conn?.end()
  rmSync(topologyFile, {force: true})
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
})

describe('msgops top in a real terminal', () => {
  it('shows the figures, follows new rows, keeps every panel at 80×24, and q exits 0 leaving the terminal usable', async () => {
    const term = shell({width: 100, height: 30})
    try {
      await term.waitFor(/\$ $/m)
      term.keys(`${top} --topology ${shellQuote(topologyFile)}; echo "[exit $?]"`, 'Enter')
      let screen = await term.waitFor(/pending 2\s+dead-letter 1/)
      expect(screen).toMatch(/orders\.dlq \(DLQ\)/)
      expect(screen).toContain('broker returned # NO_ROUTE')
      for (const panel of ['QUEUES', 'INBOX', 'RECONCILE', 'LOCKS']) expect(screen).toContain(panel)

      await conn.query("INSERT INTO outbox (id, payload, status) VALUES ('p3', '{}', 'pending'), ('p4', '{}', 'pending'), ('p5', '{}', 'pending')")
      await term.waitFor(/pending 5\s/)

      term.resize(80, 24)
      // The frame drawn for 80 columns: its queue table's last column fits.
      screen = await term.waitFor(/^msgops top[\s\S]*OUTBOX[\s\S]*ack\/s  change\n[\s\S]*LOCKS[\s\S]*q quit/m)
      const lines = screen.split('\n')
      for (const panel of ['OUTBOX', 'failure groups', 'QUEUES', 'orders.q', 'INBOX', 'RECONCILE', 'LOCKS', 'q quit']) expect(screen).toContain(panel)
      expect(lines.filter((l) => l.trimEnd().length > 80)).toEqual([])

      // Tab selects the failure group, Enter shows what to run about it.
      term.keys('Tab')
      await term.waitFor(/^> +1 +broker returned/m)
      term.keys('Enter')
      await term.waitFor(/msgops outbox requeue --error-contains 'broker returned' --dry-run/)
      term.keys('Escape')
      await term.waitFor(/OUTBOX/)

      term.keys('q')
      screen = await term.waitFor(/\[exit \d+\]/)
      expect(/\[exit (\d+)\]/.exec(screen)![1]).toBe('0')
      // The alternate screen is gone and the line discipline is back to cooked mode.
      term.keys('stty -a | tr " " "\\n" | grep -x -- "-\\?icanon"; echo "usable-$((2 + 3))"', 'Enter')
      screen = await term.waitFor(/^usable-5$/m)
      expect(screen).toMatch(/^icanon$/m)
      expect(screen).not.toContain('OUTBOX')
    } finally {
      term.close()
    }
  })

  it('Ctrl-C ends it with 130 and gives the terminal back', async () => {
    const term = shell({width: 100, height: 30})
    try {
      await term.waitFor(/\$ $/m)
      term.keys(`${top}; echo "[exit $?]"`, 'Enter')
      await term.waitFor(/OUTBOX/)
      term.keys('C-c')
      const screen = await term.waitFor(/\[exit \d+\]/)
      expect(/\[exit (\d+)\]/.exec(screen)![1]).toBe('130')
      term.keys('stty -a | tr " " "\\n" | grep -x -- "-\\?echo"; echo "back-$((1 + 1))"', 'Enter')
      expect(await term.waitFor(/^back-2$/m)).toMatch(/^echo$/m)
    } finally {
      term.close()
    }
  })
})
