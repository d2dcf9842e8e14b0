import {spawn} from 'node:child_process'
import {describe, expect, it} from 'vitest'

import {RUN_JS, runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'

/** Relay workers side by side (--part I/N) and per-aggregate order (--ordered). */
const world = useOutboxWorld('msgops-parts-')

async function takeAll(queue: string): Promise<{id: string; aggregate: string}[]> {
  const out: {id: string; aggregate: string}[] = []
  for (let m = await world.channel.get(queue, {noAck: true}); m !== false; m = await world.channel.get(queue, {noAck: true}))
    out.push({id: String(m.properties.messageId), aggregate: JSON.parse(m.content.toString()).aggregate})
  return out
}

function drain(args: string[], env: Record<string, string>): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN_JS, 'outbox', 'drain', '--yes', '--json', ...args], {env: {...process.env, ...env, NO_COLOR: '1'}, cwd: '/tmp'})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

describe('outbox drain --part', () => {
  it('two parts side by side publish every row once, each aggregate in one part and in id order', async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    const rows: unknown[][] = []
    // 3,000 rows, 300 aggregates, their events interleaved in id order.
    for (let i = 0; i < 3000; i++) {
      const aggregate = `agg-${i % 300}`
      rows.push([`r-${String(i).padStart(5, '0')}`, aggregate, JSON.stringify({aggregate, n: i})])
    }
    await conn.query("INSERT INTO outbox (id, aggregate_id, payload, exchange, routing_key, status, created_at) SELECT v.id, v.agg, v.payload, 'orders.x', 'order.created', 'pending', NOW(3) - INTERVAL 1 HOUR FROM JSON_TABLE(?, '$[*]' COLUMNS (id VARCHAR(64) PATH '$[0]', agg VARCHAR(64) PATH '$[1]', payload TEXT PATH '$[2]')) v", [JSON.stringify(rows)])
    const [one, two] = await Promise.all([drain(['--part', '1/2', '--batch-size', '100'], env), drain(['--parts', '2', '--batch-size', '100'], {...env, JOB_COMPLETION_INDEX: '1'})])
    expect(one.code, one.stderr).toBe(0)
    expect(two.code, two.stderr).toBe(0)
    const [a, b] = [JSON.parse(one.stdout).published, JSON.parse(two.stdout).published]
    expect(a + b).toBe(3000)
    expect(a).toBeGreaterThan(1000)
    expect(b).toBeGreaterThan(1000)
    const got = await takeAll('orders.q')
    expect(got).toHaveLength(3000)
    expect(new Set(got.map((m) => m.id)).size).toBe(3000)
    const byAggregate = new Map<string, string[]>()
    for (const m of got) byAggregate.set(m.aggregate, [...(byAggregate.get(m.aggregate) ?? []), m.id])
    for (const ids of byAggregate.values()) expect(ids).toEqual([...ids].sort())
  })

  it('--ordered holds an event behind an earlier one that is a dead letter or failed, and sends an aggregate\'s events in order in one run', async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    const row = (id: string, aggregate: string, status: string, routingKey = 'order.created') =>
      conn.query("INSERT INTO outbox (id, aggregate_id, payload, exchange, routing_key, status, created_at) VALUES (?, ?, ?, 'orders.x', ?, ?, NOW(3) - INTERVAL 1 HOUR)", [id, aggregate, JSON.stringify({aggregate}), routingKey, status])
    await row('a-1', 'A', 'dead_letter')
    await row('a-2', 'A', 'pending')
    // b-1 is unroutable: it fails, and b-2 must wait behind it.
    await row('b-1', 'B', 'pending', 'nowhere.to.go')
    await row('b-2', 'B', 'pending')
    for (let i = 1; i <= 5; i++) await row(`c-${i}`, 'C', 'pending')
    const run = await runCli(['outbox', 'drain', '--ordered', '--yes', '--json', '--batch-size', '2'], {env})
    expect(run.code, run.stderr).toBe(1)
    expect(JSON.parse(run.stdout)).toMatchObject({published: 5, returned: 1})
    expect((await takeAll('orders.q')).map((m) => m.id)).toEqual(['c-1', 'c-2', 'c-3', 'c-4', 'c-5'])
    const [rows] = await conn.query<any[]>("SELECT id, status, attempts FROM outbox WHERE id IN ('a-2', 'b-1', 'b-2') ORDER BY id")
    expect(rows).toEqual([{id: 'a-2', status: 'pending', attempts: 0}, {id: 'b-1', status: 'pending', attempts: 1}, {id: 'b-2', status: 'pending', attempts: 0}])
    // Without an aggregate column there is no order to keep: one line, exit 2, nothing sent.
    await conn.query('ALTER TABLE outbox DROP COLUMN aggregate_id')
    const refused = await runCli(['outbox', 'drain', '--ordered', '--yes'], {env})
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/^Error: --ordered keeps each aggregate's events in order, and the outbox table "outbox" has no aggregate id column; map outbox.columns.aggregateId/)
  })
})
