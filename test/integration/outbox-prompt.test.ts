import {execFileSync} from 'node:child_process'
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {RUN_JS, runCli, uniqueName} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'

// A real terminal (tmux, a server of this file's own) for the confirmation prompt of `outbox drain`.
const world = useOutboxWorld('msgops-prompt-')
const socket = uniqueName('msgops_prompt')
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], {encoding: 'utf8'})
const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`

afterAll(() => {
  // kill-server leaves its socket file behind.
  let path: string | undefined
  try {
    path = tmux('display-message', '-p', '#{socket_path}').trim()
    tmux('kill-server')
  } catch {
    // Already gone with its last session.
  }
  rmSync(path || join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, socket), {force: true})
})

/** Polls the pane until its text matches; the deadline only keeps a broken run from hanging the file. */
async function screenMatching(session: string, pattern: RegExp, deadlineMs = 30_000): Promise<string> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const screen = tmux('capture-pane', '-p', '-t', session)
    if (pattern.test(screen)) return screen
    if (Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}:\n${screen}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('outbox drain at its confirmation prompt, in a terminal', () => {
  it('holds no lock while the question waits, says the count is an estimate, and counts again after the answer', async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    for (const id of ['tt-1', 'tt-2', 'tt-3'])
      await conn.query("INSERT INTO outbox (id, exchange, routing_key, payload, status, created_at) VALUES (?, 'orders.x', 'order.created', '{}', 'pending', NOW(3) - INTERVAL 1 HOUR)", [id])

    const vars = Object.entries({...env, NO_COLOR: '1', XDG_CONFIG_HOME: '/nonexistent-msgops-test', PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp'})
    const command = `cd /tmp && env -i ${vars.map(([k, v]) => `${k}=${quote(v)}`).join(' ')} ${quote(process.execPath)} ${quote(RUN_JS)} outbox drain; echo EXIT:$?; sleep 120`
    tmux('new-session', '-d', '-s', 'drain', '-x', '160', '-y', '40', command)

    await screenMatching('drain', /Publish about 3 pending outbox rows to RabbitMQ\?/)
    // Nobody has answered: no lock is held, so another drain (a cron run) is not blocked.
    expect(await world.redis.client.exists(`${world.redis.prefix}lock:outbox-drain`)).toBe(0)
    const other = await runCli(['outbox', 'drain', '--yes', '--json'], {env})
    expect(other.code, other.stderr).toBe(0)
    expect(JSON.parse(other.stdout)).toMatchObject({published: 3})

    tmux('send-keys', '-t', 'drain', 'y', 'Enter')
    const screen = await screenMatching('drain', /EXIT:\d+/)
    expect(screen).toMatch(/nothing to publish: no pending rows/)
    expect(screen).toMatch(/EXIT:0/)
    const messages: string[] = []
    for (let m = await world.channel.get('orders.q', {noAck: true}); m !== false; m = await world.channel.get('orders.q', {noAck: true})) messages.push(String(m.properties.messageId))
    // Each row went out once: the answered drain found them sent.
    expect(messages.sort()).toEqual(['tt-1', 'tt-2', 'tt-3'])
  })
})
