import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'

/** Every time msgops prints is the same instant whatever TZ the client has: DATETIMEs are read in the session's zone. */
const world = useOutboxWorld('msgops-tz-')

describe('times and time zones', () => {
  it('outbox show prints the same instant, in JSON and text, under any client TZ', async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    await conn.query("INSERT INTO outbox (id, exchange, routing_key, payload, status, created_at) VALUES ('tz-1', 'orders.x', 'order.created', '{}', 'pending', NOW(3) - INTERVAL 1 HOUR)")
    const expected = Date.now() - 3_600_000
    const texts = new Set<string>()
    for (const TZ of ['UTC', 'America/Los_Angeles', 'Asia/Tokyo', 'Asia/Kolkata']) {
      const json = await runCli(['outbox', 'show', 'tz-1', '--json'], {env: {...env, TZ}})
      expect(json.code, json.stderr).toBe(0)
      const shown = JSON.parse(json.stdout) as {columns: {created_at: string}}
      expect(shown.columns.created_at).toMatch(/Z$/)
      expect(Math.abs(Date.parse(shown.columns.created_at) - expected)).toBeLessThan(120_000)
      const text = await runCli(['outbox', 'show', 'tz-1'], {env: {...env, TZ}})
      const line = text.stdout.split('\n').find((l) => l.startsWith('created_at'))!
      expect(line).toMatch(/^created_at\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/)
      texts.add(line)
    }
    expect(texts.size).toBe(1)
  })

  it('rows written in another zone (created_at hours ahead) are named by status and by a drain that skips them', async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    for (const id of ['ahead-1', 'ahead-2'])
      await conn.query("INSERT INTO outbox (id, exchange, routing_key, payload, status, created_at) VALUES (?, 'orders.x', 'order.created', '{}', 'pending', NOW(3) + INTERVAL 8 HOUR)", [id])
    const status = await runCli(['outbox', 'status', '--json'], {env})
    expect(status.code, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout).notes.join(' ')).toMatch(/2 pending rows have created_at in the future \(the newest 7h 59m ahead of the database's clock\)|2 pending rows have created_at in the future \(the newest 8h ahead/)
    const drain = await runCli(['outbox', 'drain', '--yes', '--json'], {env})
    expect(drain.code).toBe(0)
    expect(JSON.parse(drain.stdout).idle.reason).toMatch(/2 pending rows are younger than --older-than 30s \(the default\); 2 of them have created_at in the future/)
  })
})
