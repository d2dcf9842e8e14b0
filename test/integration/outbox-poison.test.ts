import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'

/**
 * Rows the protocol cannot carry (a routing key or event type over 255 bytes, a header name over 255 bytes, headers over
 * 64 KiB encoded, headers that are not a JSON object) are set aside one by one, with an attempt and an error naming the
 * field and the limit; the rows around them in the same batch are sent and committed once, and a run with
 * --max-attempts makes the poison rows dead letters, so no row behind them is blocked.
 */
const world = useOutboxWorld('msgops-poison-')

describe('poison outbox rows', () => {
  it('are set aside alone; the rest of their batch is sent once', async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    // A team's own table keeps headers as TEXT: nothing stops text that is not JSON there.
    await conn.query('ALTER TABLE outbox MODIFY headers MEDIUMTEXT NULL')
    const insert = (id: string, over: {routingKey?: string; eventType?: string; headers?: string | null} = {}) =>
      conn.query("INSERT INTO outbox (id, event_type, exchange, routing_key, payload, headers, status, created_at) VALUES (?, ?, 'orders.x', ?, '{}', ?, 'pending', NOW(3) - INTERVAL 1 HOUR)", [
        id, over.eventType ?? 'order.created', over.routingKey ?? 'order.created', over.headers ?? null,
      ])
    await insert('p-01')
    await insert('p-02', {routingKey: `order.${'é'.repeat(130)}`})
    await insert('p-03')
    await insert('p-04', {eventType: 'é'.repeat(128)})
    await insert('p-05', {headers: JSON.stringify({['k'.repeat(256)]: 1})})
    await insert('p-06', {headers: JSON.stringify({trace: 'x'.repeat(70_000)})})
    await insert('p-07', {headers: '{"traceparent": '})
    await insert('p-08', {headers: '[1, 2]'})
    await insert('p-09', {headers: JSON.stringify({traceparent: '00-abc-01'})})

    const run = await runCli(['outbox', 'drain', '--yes', '--json', '--batch-size', '100'], {env})
    expect(run.code, run.stderr).toBe(1)
    const result = JSON.parse(run.stdout)
    expect(result).toMatchObject({published: 3, invalid: 6, deadLettered: 0, batches: 1})
    const [rows] = await conn.query<any[]>('SELECT id, status, attempts, last_error FROM outbox ORDER BY id')
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]))
    for (const id of ['p-01', 'p-03', 'p-09']) expect(byId[id]).toMatchObject({status: 'sent', attempts: 0})
    expect(byId['p-02'].last_error).toMatch(/^invalid: the routing key is 266 bytes, above AMQP's 255-byte limit for a short string$/)
    expect(byId['p-04'].last_error).toMatch(/the type property is 256 bytes/)
    expect(byId['p-05'].last_error).toMatch(/the header name headers\.k+… is 256 bytes/)
    expect(byId['p-06'].last_error).toMatch(/the headers encode to \d+ bytes, above the 65536-byte limit/)
    expect(byId['p-07'].last_error).toMatch(/the headers column is not JSON/)
    expect(byId['p-08'].last_error).toMatch(/the headers column holds a JSON array, not an object/)
    for (const id of ['p-02', 'p-04', 'p-05', 'p-06', 'p-07', 'p-08']) expect(byId[id]).toMatchObject({status: 'pending', attempts: 1})

    // What reached the queue: each good row once, with the row's own headers.
    const got: {id: string; headers: Record<string, unknown>}[] = []
    for (let m = await world.channel.get('orders.q', {noAck: true}); m !== false; m = await world.channel.get('orders.q', {noAck: true}))
      got.push({id: String(m.properties.messageId), headers: m.properties.headers ?? {}})
    expect(got.map((g) => g.id)).toEqual(['p-01', 'p-03', 'p-09'])
    expect(got[2].headers.traceparent).toBe('00-abc-01')

    // At the attempts limit they become dead letters and stop being read.
    const again = await runCli(['outbox', 'drain', '--yes', '--json', '--max-attempts', '2'], {env})
    expect(again.code).toBe(1)
    expect(JSON.parse(again.stdout)).toMatchObject({published: 0, invalid: 6, deadLettered: 6})
    const [dead] = await conn.query<any[]>("SELECT COUNT(*) AS n FROM outbox WHERE status = 'dead_letter'")
    expect(Number(dead[0].n)).toBe(6)
  })
})
