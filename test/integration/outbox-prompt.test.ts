import {afterAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'
import {closeTerminals, collapse, openTerminal} from '../helpers/terminal.js'

// A real terminal (tmux) for the confirmation prompt of `outbox drain`.
const world = useOutboxWorld('msgops-prompt-')

afterAll(closeTerminals)

describe('outbox drain at its confirmation prompt, in a terminal', () => {
  it('holds no lock while the question waits, says the count is an estimate, and counts again after the answer', async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    for (const id of ['tt-1', 'tt-2', 'tt-3'])
      await conn.query("INSERT INTO outbox (id, exchange, routing_key, payload, status, created_at) VALUES (?, 'orders.x', 'order.created', '{}', 'pending', NOW(3) - INTERVAL 1 HOUR)", [id])

    const drain = openTerminal(['outbox', 'drain'], {...env, NO_COLOR: '1'}, {width: 160, height: 40})
    const asked = collapse(await drain.waitFor(/Publish about[\s\S]*\? \(y\/N\)/))
    expect(asked).toContain(`Publish about 3 pending outbox rows from MySQL 127.0.0.1:3306/${new URL(env.MSGOPS_MYSQL_URL).pathname.slice(1)} to RabbitMQ 127.0.0.1:5672 vhost ${world.vhost.name}?`)
    // Nobody has answered: no lock is held, so another drain (a cron run) is not blocked.
    expect(await world.redis.client.exists(`${world.redis.prefix}lock:outbox-drain`)).toBe(0)
    const other = await runCli(['outbox', 'drain', '--yes', '--json'], {env})
    expect(other.code, other.stderr).toBe(0)
    expect(JSON.parse(other.stdout)).toMatchObject({published: 3})

    drain.keys('y', 'Enter')
    expect(await drain.exitCode()).toBe(0)
    expect(drain.screen()).toMatch(/nothing to publish: no pending rows/)
    const messages: string[] = []
    for (let m = await world.channel.get('orders.q', {noAck: true}); m !== false; m = await world.channel.get('orders.q', {noAck: true})) messages.push(String(m.properties.messageId))
    // Each row went out once: the answered drain found them sent.
    expect(messages.sort()).toEqual(['tt-1', 'tt-2', 'tt-3'])
  })
})
