import {describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {LockHeldError} from '../../src/core/errors.js'
import {inboxMapping, ordersMapping, outboxMapping} from '../../src/core/mapping.js'
import type {Row, SqlExecutor, SqlPort} from '../../src/core/ports.js'
import {type CheckName, linkOf, type MergedCheck, type Schema} from '../../src/core/reconcile/checks.js'
import {assignLanes, type LaneContext, type LanePlan, runLanes} from '../../src/core/reconcile/lanes.js'
import type {OrderPage} from '../../src/core/reconcile/packed-page.js'
import type {CachePort, CacheRead} from '../../src/core/reconcile/ports.js'
import {until} from './fake-outbox.js'

describe('assignLanes (decision table)', () => {
  const lanes = (runnable: CheckName[], merged: MergedCheck[] = []) => assignLanes(runnable, merged)

  it('cache_drift runs in the orders lane with Redis', () => {
    expect(lanes(['cache_drift'])).toEqual({orders: {message: false}, merge: [], sql: []})
  })
  it('order_without_message merged goes to the merge lane, whether cache_drift runs or not', () => {
    expect(lanes(['order_without_message', 'cache_drift'], ['order_without_message'])).toEqual({orders: {message: false}, merge: ['order_without_message'], sql: []})
    expect(lanes(['order_without_message'], ['order_without_message'])).toEqual({orders: null, merge: ['order_without_message'], sql: []})
  })
  it('order_without_message not merged rides along on the orders scan when cache_drift runs', () => {
    expect(lanes(['order_without_message', 'cache_drift'])).toEqual({orders: {message: true}, merge: [], sql: []})
  })
  it('order_without_message not merged, without cache_drift, is an SQL lane check', () => {
    expect(lanes(['order_without_message'])).toEqual({orders: null, merge: [], sql: ['order_without_message']})
  })
  it('sent_not_consumed and orphan_consumed merged go to the merge lane, whether cache_drift runs or not', () => {
    expect(lanes(['sent_not_consumed', 'orphan_consumed'], ['sent_not_consumed', 'orphan_consumed'])).toEqual({orders: null, merge: ['sent_not_consumed', 'orphan_consumed'], sql: []})
    expect(lanes(['sent_not_consumed', 'orphan_consumed', 'cache_drift'], ['orphan_consumed']).merge).toEqual(['orphan_consumed'])
  })
  it('sent_not_consumed and orphan_consumed not merged are SQL lane checks', () => {
    expect(lanes(['sent_not_consumed', 'orphan_consumed', 'cache_drift']).sql).toEqual(['orphan_consumed', 'sent_not_consumed'])
  })
  it('message_stuck, message_dead and consumed_failed are always SQL lane checks, most expensive first', () => {
    expect(lanes(['message_stuck', 'message_dead', 'consumed_failed', 'cache_drift'], ['sent_not_consumed']).sql).toEqual(['consumed_failed', 'message_stuck', 'message_dead'])
    expect(lanes(['message_dead', 'consumed_failed', 'message_stuck', 'order_without_message', 'sent_not_consumed', 'orphan_consumed']).sql).toEqual([
      'orphan_consumed',
      'sent_not_consumed',
      'order_without_message',
      'consumed_failed',
      'message_stuck',
      'message_dead',
    ])
  })
  it('a check that is not runnable is in no lane, even if merged', () => {
    expect(lanes(['message_dead'], ['sent_not_consumed'])).toEqual({orders: null, merge: [], sql: ['message_dead']})
  })
})

/**
 * A database whose every scan has one more page (never the last), except the statements `fails` picks, which fail:
 * a lane on it runs until it is stopped, or until OVERRUN statements (then `overran`, and it fails).
 */
const OVERRUN = 2000

class EndlessSql implements SqlPort {
  readonly statements: string[] = []
  overran = false
  constructor(
    private readonly fails: (sql: string) => Error | null = () => null,
    private readonly onQuery: (count: number) => void = () => {},
  ) {}

  async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.statements.push(sql)
    this.onQuery(this.statements.length)
    // An answer comes on a later turn of the event loop, as a socket's does.
    await new Promise((resolve) => setImmediate(resolve))
    if (this.statements.length > OVERRUN) {
      this.overran = true
      throw new Error('the lane was never stopped')
    }
    const failure = this.fails(sql)
    if (failure) throw failure
    const limit = Number(params.at(-1))
    return Array.from({length: limit}, (_x, n) => ({_ts: null, _k0: `k${this.statements.length}-${n}`, order_status: 'paid'})) as unknown as T[]
  }

  async execute(): Promise<{affectedRows: number}> {
    throw new Error('reconcile changes nothing')
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return work(this)
  }

  async version(): Promise<string> {
    return '10.11.6-MariaDB'
  }
}

class FailingCache implements CachePort {
  constructor(private readonly error: Error) {}
  async read(): Promise<CacheRead[]> {
    throw this.error
  }
  async readDiffering(_pattern: string, _page: OrderPage): Promise<(CacheRead | null)[]> {
    throw this.error
  }
  async write(): Promise<{left: string[]}> {
    return {left: []}
  }
  async remove(): Promise<void> {}
}

function context(sql: SqlPort, extra: Partial<LaneContext> = {}): LaneContext {
  const orders = ordersMapping(DEFAULTS, DEFAULTS.orders.columns)
  const outbox = outboxMapping(DEFAULTS, DEFAULTS.outbox.columns)
  const schema: Schema = {orders, outbox, inbox: inboxMapping(DEFAULTS, DEFAULTS.inbox.columns), link: linkOf(orders, outbox)}
  const bounds = {now: '2026-11-21 05:00:00.000000', since: '2026-11-20 05:00:00.000000', until: null, cutoff: '2026-11-21 04:55:00.000000'}
  return {sql, keyPattern: 'order:{id}', schema, bounds, orders: {orders: 'time', outbox: 'time'}, batch: 2, sample: 5, mergePage: 2, progress: () => {}, ...extra}
}

/** Lets the lanes run on for a while: what they do after the run ended shows. */
const runOn = () => until(() => false).catch(() => {})

describe('runLanes over fakes of the ports', () => {
  const sqlOnly: LanePlan = {orders: null, merge: [], sql: ['consumed_failed', 'message_stuck']}

  it('a failing lane: its error is the run\'s, and the other lanes stop at their next page', async () => {
    const boom = new Error('inbox read failed')
    // consumed_failed reads the inbox and fails at its first page; message_stuck's scan of the outbox never ends.
    const sql = new EndlessSql((text) => (text.includes('FROM `inbox` i') ? boom : null))
    await expect(runLanes(context(sql), sqlOnly, undefined)).rejects.toBe(boom)
    const after = sql.statements.length
    await runOn()
    expect(sql.statements.length).toBe(after)
    expect(sql.overran).toBe(false)
    expect(sql.statements.some((s) => s.includes('FROM `outbox` m'))).toBe(true)
  })

  it('a failing orders lane (Redis) stops the SQL lanes', async () => {
    const redisDown = new Error('Connection is closed.')
    const sql = new EndlessSql()
    const plan: LanePlan = {orders: {message: false}, merge: [], sql: ['message_stuck']}
    await expect(runLanes(context(sql, {cache: new FailingCache(redisDown)}), plan, undefined)).rejects.toBe(redisDown)
    const after = sql.statements.length
    await runOn()
    expect(sql.statements.length).toBe(after)
    expect(sql.overran).toBe(false)
  })

  it('the lock lost mid-run: every lane stops and the LockHeldError is the reason', async () => {
    const lock = new AbortController()
    const lost = new LockHeldError('lock reconcile was lost while the work ran', 'another run may have taken it; check before running again')
    const sql = new EndlessSql(() => null, (count) => count === 5 && lock.abort(lost))
    const error = await runLanes(context(sql, {signal: lock.signal}), sqlOnly, undefined).catch((e: unknown) => e)
    expect(error).toBe(lost)
    expect(error).toBeInstanceOf(LockHeldError)
    const after = sql.statements.length
    await runOn()
    expect(sql.statements.length).toBe(after)
    expect(sql.overran).toBe(false)
  })

  it('lanes that finish give every check its result', async () => {
    let pages = 0
    // One page of two rows for each check, then an empty one.
    const sql = new EndlessSql(() => null)
    const once: SqlPort = Object.assign(Object.create(sql) as SqlPort, {
      query: async <T extends Row>(text: string, params: unknown[]) => ((++pages <= 2 ? await sql.query<T>(text, params) : []) as T[]),
    })
    const results = await runLanes(context(once), sqlOnly, undefined)
    expect(Object.keys(results).sort()).toEqual(['consumed_failed', 'message_stuck'])
    expect(results.consumed_failed!.count + results.message_stuck!.count).toBe(4)
  })
})
