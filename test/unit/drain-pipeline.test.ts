import {describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {OperationError} from '../../src/core/errors.js'
import {drainOutbox} from '../../src/core/outbox/drain.js'
import type {PublishOutcome, SqlPort} from '../../src/core/ports.js'
import {FakeOutboxSql, ScriptedPublisher, until} from './fake-outbox.js'

/** The drain's pipeline in process: the real repository SQL on an in-memory outbox, a broker that answers when told. */

const rows = (n: number, prefix = 'r') => Array.from({length: n}, (_x, i) => ({id: `${prefix}${i + 1}`}))
const confirmAll = () => ({status: 'confirmed'}) as const
const statusOf = (sql: FakeOutboxSql) => Object.fromEntries([...sql.rows.values()].map((r) => [r.id, r.status]))

describe('drainOutbox over fakes of its ports', () => {
  it('keeps up to --pipeline batches waiting for the broker, each its own transaction, the next locked ahead, and marks a row sent only after its confirm', async () => {
    const sql = new FakeOutboxSql(rows(6))
    const publisher = new ScriptedPublisher(confirmAll, true)
    const run = drainOutbox({sql, publisher}, {config: DEFAULTS, batchSize: 2, pipeline: 2})
    await until(() => publisher.batches.length === 2 && sql.locks.size === 6)
    // Two batches wait for the broker; the third is locked ahead but not published; nothing is sent yet; each batch holds its own rows.
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve))
    expect(publisher.batches.map((b) => b.ids)).toEqual([['r1', 'r2'], ['r3', 'r4']])
    expect(Object.values(statusOf(sql))).toEqual(Array(6).fill('pending'))
    expect(new Set(sql.locks.values()).size).toBe(3)
    publisher.batches[1].settle()
    await until(() => statusOf(sql).r3 === 'sent')
    // The second batch is committed although the first still waits; the third takes its place in flight.
    expect(statusOf(sql)).toMatchObject({r1: 'pending', r2: 'pending', r3: 'sent', r4: 'sent'})
    await until(() => publisher.batches.length === 3)
    expect(publisher.batches[2].ids).toEqual(['r5', 'r6'])
    publisher.batches[0].settle()
    publisher.batches[2].settle()
    const result = await run
    expect(result).toMatchObject({published: 6, batches: 3, remaining: 0, interrupted: false})
    expect(publisher.maxInFlight).toBe(2)
    expect(Object.values(statusOf(sql))).toEqual(Array(6).fill('sent'))
    expect(sql.locks.size).toBe(0)
  })

  it('a batch whose confirms are in gives its place to the next before its UPDATE and commit; --in-flight 1 is one transaction at a time', async () => {
    for (const [pipeline, publishedBeforeCommit] of [[2, 3], [1, 1]]) {
      const sql = new FakeOutboxSql(rows(6))
      let open!: () => void
      const gate = new Promise<void>((resolve) => (open = resolve))
      // Every UPDATE waits at the gate: no batch can commit until it opens.
      const gated: SqlPort = {
        query: (q, p) => sql.query(q, p), execute: (q, p) => sql.execute(q, p), version: () => sql.version(),
        transaction: (work) => sql.transaction((tx) => work({query: (q, p) => tx.query(q, p), execute: async (q, p) => (await gate, tx.execute(q, p))})),
      }
      const publisher = new ScriptedPublisher(confirmAll)
      const run = drainOutbox({sql: gated, publisher}, {config: DEFAULTS, batchSize: 2, pipeline})
      await until(() => publisher.batches.length === publishedBeforeCommit)
      for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve))
      expect(publisher.batches.length).toBe(publishedBeforeCommit)
      expect(Object.values(statusOf(sql))).toEqual(Array(6).fill('pending'))
      open()
      expect(await run).toMatchObject({published: 6, batches: 3})
      expect(Object.values(statusOf(sql))).toEqual(Array(6).fill('sent'))
    }
  })

  it('a nack and a return cost the row an attempt and record why, the rest of the batch is sent; at --max-attempts it becomes a dead letter', async () => {
    const sql = new FakeOutboxSql([{id: 'a1'}, {id: 'a2'}, {id: 'a3', attempts: 2}, {id: 'a4'}])
    const answers: Record<string, PublishOutcome> = {
      a2: {status: 'nacked', reason: 'broker refused'},
      a3: {status: 'returned', reason: 'NO_ROUTE'},
    }
    const publisher = new ScriptedPublisher((id) => answers[id] ?? {status: 'confirmed'})
    const result = await drainOutbox({sql, publisher}, {config: DEFAULTS, batchSize: 10, maxAttempts: 3})
    expect(result).toMatchObject({published: 2, nacked: 1, returned: 1, deadLettered: 1, remaining: 1})
    expect(sql.rows.get('a1')).toMatchObject({status: 'sent', sent_at: 'now', attempts: 0})
    expect(sql.rows.get('a2')).toMatchObject({status: 'pending', attempts: 1, last_error: 'nacked: broker refused', sent_at: null})
    expect(sql.rows.get('a3')).toMatchObject({status: 'dead_letter', attempts: 3, last_error: 'returned: NO_ROUTE', sent_at: null})
    expect(sql.rows.get('a4')).toMatchObject({status: 'sent'})
    expect(result.failures.map((f) => [f.id, f.outcome, f.deadLettered])).toEqual([
      ['a2', 'nacked', false],
      ['a3', 'returned', true],
    ])
  })

  it('a channel that dies mid-batch rolls that batch back (its rows stay pending, no attempt counted); committed batches stay sent', async () => {
    const sql = new FakeOutboxSql(rows(6))
    const death = new OperationError('RabbitMQ closed the channel: CHANNEL_ERROR', 'check the broker and run again')
    const publisher = new ScriptedPublisher((id) => (id === 'r3' ? {status: 'channel-death', error: death} : {status: 'confirmed'}))
    const error = await drainOutbox({sql, publisher}, {config: DEFAULTS, batchSize: 2, pipeline: 1}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OperationError)
    expect((error as Error).message).toMatch(/RabbitMQ closed the channel: CHANNEL_ERROR; the batch in hand \(2 rows, ids r3 to r4\) was rolled back \(its rows stay pending\), 2 published in committed batches/)
    expect(statusOf(sql)).toEqual({r1: 'sent', r2: 'sent', r3: 'pending', r4: 'pending', r5: 'pending', r6: 'pending'})
    expect(sql.rows.get('r3')).toMatchObject({attempts: 0, last_error: null})
    expect([sql.commits, sql.rollbacks]).toEqual([1, 1])
    // Nothing after the failed batch was claimed.
    expect(publisher.batches.map((b) => b.ids)).toEqual([['r1', 'r2'], ['r3', 'r4']])
    expect(sql.locks.size).toBe(0)
  })

  it('an abort finishes the batch in hand (committed) and stops before the next one', async () => {
    const sql = new FakeOutboxSql(rows(6))
    const controller = new AbortController()
    const publisher = new ScriptedPublisher(confirmAll)
    publisher.onPublish = (ids) => {
      if (ids[0] === 'r3') controller.abort()
    }
    const result = await drainOutbox({sql, publisher, signal: controller.signal}, {config: DEFAULTS, batchSize: 2, pipeline: 1})
    expect(result).toMatchObject({interrupted: true, published: 4, batches: 2, remaining: 2})
    expect(statusOf(sql)).toEqual({r1: 'sent', r2: 'sent', r3: 'sent', r4: 'sent', r5: 'pending', r6: 'pending'})
    expect(publisher.batches).toHaveLength(2)
  })
})
