import {chmodSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type mysql from 'mysql2/promise'
import {afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'
import {spawnCli} from '../reliability/helpers/world.js'

const world = useOutboxWorld('msgops-edit-')

function oneLineError(run: {code: number | null; stderr: string}, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(2)
  expect(run.stderr).toMatch(pattern)
  expect(run.stderr.trim().split('\n')).toHaveLength(1)
}

/** Every message in orders.q, taken out: id and body. */
async function takeAll(): Promise<{id: string; body: string}[]> {
  const out: {id: string; body: string}[] = []
  for (;;) {
    const m = await world.channel.get('orders.q', {noAck: true})
    if (m === false) return out
    out.push({id: String(m.properties.messageId), body: m.content.toString()})
  }
}

describe('outbox edit', () => {
  let conn: mysql.Connection
  let env: Record<string, string>
  let editor: string

  const row = async (id: string) => {
    const [rows] = await conn.query('SELECT status, attempts, payload, last_error FROM outbox WHERE id = ?', [id])
    const r = (rows as {status: string; attempts: number; payload: unknown; last_error: string | null}[])[0]
    return r && {...r, payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload}
  }

  beforeAll(async () => {
    const own = await world.database()
    conn = own.conn
    env = own.env
    await initReferenceSchema(conn, env)
    // An editor stand-in: changes the total in the file it is given, as a person would, and saves.
    editor = join(world.tempDir, 'editor.sh')
    writeFileSync(editor, '#!/bin/sh\nsed -i \'s/"total": 10/"total": 12.5/\' "$1"\n')
    chmodSync(editor, 0o755)
  })

  /** Until the edit's SELECT … FOR UPDATE of the row runs in another session of this database (INNODB_TRX does not always list it). */
  const lockWaitOn = async (edit?: {result: Promise<{code: number | null; stderr: string}>}) => {
    let ended: string | undefined
    void edit?.result.then((r) => (ended = `${r.code} ${r.stderr}`))
    for (let i = 0; i < 300; i++) {
      if (ended) throw new Error(`the edit ended before waiting for the lock: ${ended}`)
      // The edit's locking read, running while this session holds the row: it can only be waiting for the lock.
      const [waiting] = await conn.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE 'SELECT * FROM `outbox` FORCE INDEX (PRIMARY) WHERE%FOR UPDATE'")
      if ((waiting as unknown[]).length > 0) return
      await new Promise((r) => setTimeout(r, 50))
    }
    const [all] = await conn.query('SELECT ID, DB, COMMAND, STATE, LEFT(INFO, 100) AS info FROM information_schema.PROCESSLIST WHERE DB = DATABASE()')
    const [trx] = await conn.query('SELECT trx_state, trx_mysql_thread_id FROM information_schema.INNODB_TRX')
    throw new Error(`the edit never waited for the row lock: ${JSON.stringify(all)} ${JSON.stringify(trx)}`)
  }

  // A test that failed while holding the row must not leave its transaction open for the next one.
  afterEach(async () => conn.rollback().catch(() => {}))

  beforeEach(async () => {
    await conn.query('DELETE FROM outbox')
    await world.channel.purgeQueue('orders.q')
    await conn.query(
      "INSERT INTO outbox (id, event_type, exchange, routing_key, payload, status, attempts, last_error) VALUES ('d1', 'order.created', 'orders.x', 'order.created', '{\"orderId\": 1, \"total\": 10}', 'dead_letter', 10, 'returned: NO_ROUTE'), ('s1', 'order.created', 'orders.x', 'order.created', '{\"total\": 10}', 'sent', 0, NULL)",
    )
  })

  it('through a real editor: diff, one transaction, pending with attempts kept and a note; the next drain sends exactly one copy, the new one', async () => {
    const run = await runCli(['outbox', 'edit', 'd1', '--yes'], {env: {...env, EDITOR: editor, VISUAL: ''}})
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/-\s+"total": 10/)
    expect(run.stdout).toMatch(/\+\s+"total": 12.5/)
    expect(run.stdout).toMatch(/dead-letter → pending \(attempts kept: 10\)/)
    const after = await row('d1')
    expect(after).toMatchObject({status: 'pending', attempts: 10, payload: {orderId: 1, total: 12.5}})
    expect(after.last_error).toMatch(/^edited by msgops outbox edit at .*; before: returned: NO_ROUTE$/)
    const [audit] = await conn.query("SELECT outcome FROM msgops_audit WHERE command = 'outbox:edit'")
    const outcome = (audit as {outcome: unknown}[]).map((a) => (typeof a.outcome === 'string' ? JSON.parse(a.outcome) : a.outcome))
    expect(outcome).toEqual([expect.objectContaining({id: 'd1', previousStatus: 'dead-letter', before: {payload: {orderId: 1, total: 10}, headers: {}}, after: {payload: {orderId: 1, total: 12.5}, headers: {}}})])

    const drain = await runCli(['outbox', 'drain', '--older-than', '0s', '--yes'], {env})
    expect(drain.code, drain.stderr).toBe(0)
    const copies = await takeAll()
    expect(copies).toEqual([{id: 'd1', body: JSON.stringify({orderId: 1, total: 12.5})}])
    expect((await row('d1')).status).toBe('sent')
  })

  it('--set and --set-payload for scripts; unchanged writes nothing', async () => {
    const set = await runCli(['outbox', 'edit', 'd1', '--set', 'total=11', '--set', 'customer.email=a@b.c', '--yes', '--json'], {env})
    expect(set.code, set.stderr).toBe(0)
    expect((await row('d1')).payload).toEqual({orderId: 1, total: 11, customer: {email: 'a@b.c'}})
    const same = await runCli(['outbox', 'edit', 'd1', '--set-payload', '{"orderId":1,"total":11,"customer":{"email":"a@b.c"}}', '--yes', '--json'], {env})
    expect(same.code, same.stderr).toBe(0)
    expect(JSON.parse(same.stdout).unchanged).toBe(true)
  })

  it('bad input: a missing row, a sent row, malformed JSON (file, text, editor): one line, exit 2, nothing changed', async () => {
    oneLineError(await runCli(['outbox', 'edit', 'nope', '--set-payload', '{}', '--yes'], {env}), /no outbox row has id nope/)
    oneLineError(await runCli(['outbox', 'edit', 's1', '--set-payload', '{}', '--yes'], {env}), /outbox row s1 is sent/)
    oneLineError(await runCli(['outbox', 'edit', 'd1', '--set-payload', '{"total": ', '--yes'], {env}), /--set-payload is not valid JSON/)
    const file = join(world.tempDir, 'bad.json')
    writeFileSync(file, '{oops')
    oneLineError(await runCli(['outbox', 'edit', 'd1', '--payload-file', file, '--yes'], {env}), /--payload-file .* is not valid JSON/)
    const breaker = join(world.tempDir, 'breaker.sh')
    writeFileSync(breaker, '#!/bin/sh\necho "{ not json" > "$1"\n')
    chmodSync(breaker, 0o755)
    oneLineError(await runCli(['outbox', 'edit', 'd1', '--yes'], {env: {...env, EDITOR: breaker}}), /the edited document is not valid JSON/)
    oneLineError(await runCli(['outbox', 'edit', 'd1', '--yes'], {env: {...env, EDITOR: '', VISUAL: ''}}), /no editor/)
    expect(await row('d1')).toMatchObject({status: 'dead_letter', payload: {orderId: 1, total: 10}, last_error: 'returned: NO_ROUTE'})
  })

  it('a drain holding the row while the edit writes: sent first → the edit is refused and exactly the old copy went out', async () => {
    await conn.query("UPDATE outbox SET status = 'pending' WHERE id = 'd1'")
    // The drain's transaction: the row locked FOR UPDATE, published meanwhile, marked sent at its commit.
    await conn.beginTransaction()
    await conn.query("SELECT * FROM outbox WHERE id = 'd1' FOR UPDATE")
    const edit = spawnCli(['outbox', 'edit', 'd1', '--set', 'total=99', '--yes'], env)
    // The edit reads without a lock, then waits for the row's lock; the drain marks it sent and commits.
    await lockWaitOn(edit)
    await conn.query("UPDATE outbox SET status = 'sent' WHERE id = 'd1'")
    await conn.commit()
    const result = await edit.result
    oneLineError(result, /outbox row d1 is sent/)
    expect(await row('d1')).toMatchObject({status: 'sent', payload: {orderId: 1, total: 10}})
  })

  it('a drain whose publish failed while the edit waited: the edit applies, and the next drain sends only the new payload', async () => {
    await conn.query("UPDATE outbox SET status = 'pending', attempts = 3 WHERE id = 'd1'")
    await conn.beginTransaction()
    await conn.query("SELECT * FROM outbox WHERE id = 'd1' FOR UPDATE")
    const edit = spawnCli(['outbox', 'edit', 'd1', '--set', 'total=99', '--yes'], env)
    await lockWaitOn(edit)
    await conn.query("UPDATE outbox SET attempts = attempts + 1, last_error = 'returned: NO_ROUTE' WHERE id = 'd1'")
    await conn.commit()
    const result = await edit.result
    expect(result.code, result.stderr).toBe(0)
    expect(await row('d1')).toMatchObject({status: 'pending', attempts: 4, payload: {orderId: 1, total: 99}})
    await runCli(['outbox', 'drain', '--older-than', '0s', '--yes'], {env})
    expect(await takeAll()).toEqual([{id: 'd1', body: JSON.stringify({orderId: 1, total: 99})}])
  })

  it('edit and drain racing over many rows: each row arrives exactly once, with the payload the table ends with', async () => {
    await conn.query('DELETE FROM outbox')
    const ids = Array.from({length: 40}, (_, i) => `r${String(i).padStart(2, '0')}`)
    await conn.query('INSERT INTO outbox (id, event_type, exchange, routing_key, payload, status, attempts, created_at) VALUES ?', [
      ids.map((id) => [id, 'order.created', 'orders.x', 'order.created', JSON.stringify({id, v: 1}), 'pending', 1, new Date(Date.now() - 60_000)]),
    ])
    const drains = [spawnCli(['outbox', 'drain', '--older-than', '0s', '--batch-size', '1', '--rate', '40', '--yes'], env)]
    const edits = ids.filter((_, i) => i % 2 === 0).map((id) => spawnCli(['outbox', 'edit', id, '--set', 'v=2', '--yes'], env))
    const results = await Promise.all(edits.map((e) => e.result))
    for (const r of results) expect([0, 2], r.stderr).toContain(r.code)
    for (const r of results.filter((x) => x.code === 2)) expect(r.stderr).toMatch(/is sent/)
    await Promise.all(drains.map((d) => d.result))
    await runCli(['outbox', 'drain', '--older-than', '0s', '--yes'], {env})
    const copies = await takeAll()
    expect(copies.map((c) => c.id).sort()).toEqual(ids)
    const [final] = await conn.query('SELECT id, payload FROM outbox ORDER BY id')
    for (const r of final as {id: string; payload: unknown}[]) {
      const payload = typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload
      expect(JSON.parse(copies.find((c) => c.id === r.id)!.body), r.id).toEqual(payload)
    }
  })
})
