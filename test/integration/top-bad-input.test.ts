import {rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {tmpdir} from 'node:os'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'

let busy: Server
let busyPort: number

beforeAll(async () => {
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  busyPort = (busy.address() as {port: number}).port
})

afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())))

/** One line on stderr that names the problem, exit 2, no stack, and nothing was connected to (it fails first). */
async function refused(args: string[], message: RegExp) {
  const result = await runCli(args, {env: {MSGOPS_MYSQL_URL: 'mysql://root@127.0.0.1:1/none'}})
  expect(result.code, result.stderr).toBe(2)
  const lines = result.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(message)
  expect(result.stderr).not.toMatch(/\n\s+at /)
}

describe('bad input to top and metrics serve: one line, exit 2', () => {
  it.each([
    [['top', '--interval', '0'], /^Error: --interval 0 is out of range; use from 500ms to 1h$/],
    [['top', '--interval', 'often'], /^Error: --interval "often" is not a duration/],
    [['top', '--timeout', '0s'], /^Error: --timeout 0s is out of range/],
    [['top', '--fail-if-dead-letters', 'many'], /^Error: --fail-if-dead-letters: expected an integer but received: many/],
    [['top', '--fail-if-pending-older-than', '10'], /^Error: --fail-if-pending-older-than "10" has no unit/],
    [['metrics', 'serve', '--listen', 'localhost'], /^Error: --listen localhost is not an address and port; use HOST:PORT/],
    [['metrics', 'serve', '--listen', '203.0.113.7:9464'], /^Error: --listen 203\.0\.113\.7:9464: no such address on this machine/],
    [['metrics', 'serve', '--min-interval', '-1s'], /^Error: --min-interval "-1s" is negative/],
  ])('%j', async (args, message) => refused(args as string[], message as RegExp))

  it('--listen on a port in use', async () => {
    await refused(['metrics', 'serve', '--listen', `127.0.0.1:${busyPort}`], new RegExp(`^Error: --listen 127\\.0\\.0\\.1:${busyPort}: the port is in use; choose another port`))
  })

  it('a threshold of the wrong type in top.thresholds names the key', async () => {
    const file = join(tmpdir(), `msgops-top-${process.pid}.yaml`)
    writeFileSync(file, 'top:\n  thresholds:\n    dlqMessages: lots\n')
    try {
      await refused(['top', '--once', '--config', file], /top\.thresholds\.dlqMessages/)
    } finally {
      rmSync(file, {force: true})
    }
  })
})
