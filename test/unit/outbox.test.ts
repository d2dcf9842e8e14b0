import {describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {type Config, outboxColumns} from '../../src/config/schema.js'
import {ConfigError, UsageError} from '../../src/core/errors.js'
import {decideRow, idleReason, openTransactions, sortBatch, toMessage} from '../../src/core/outbox/drain.js'
import {OutboxRepository, toOutboxRow} from '../../src/core/outbox/repository.js'
import {attemptsBucket, COUNT_CAP, estimateCounts, statusAlerts} from '../../src/core/outbox/status.js'
import {headersOf, outboxTableFrom, parseJsonValue, parseStatus, payloadText, statusName} from '../../src/core/outbox/table.js'
import {REQUIRED_COLUMNS} from '../../src/core/tables.js'
import {formatMetrics} from '../../src/render/metrics.js'
import {renderDrain, statusMetrics} from '../../src/render/outbox.js'

const reference = outboxTableFrom(DEFAULTS, DEFAULTS.outbox.columns)

function integerConfig(): Config {
  const config = structuredClone(DEFAULTS)
  config.outbox = {
    ...config.outbox,
    table: 'order_mq_tab',
    statuses: {pending: 1, sent: 2, deadLetter: 3},
    exchange: 'order_exchange',
    routingKey: 'order.created',
  }
  return config
}
// What inspectTables resolves for a table with only the four required columns.
const integer = outboxTableFrom(integerConfig(), {
  id: 'messageId', payload: 'messageContent', status: 'messageStatus', createdAt: 'addTime', aggregateType: null, aggregateId: null, eventType: null,
  exchange: null, routingKey: null, headers: null, attempts: null, lastError: null, availableAt: null, sentAt: null,
})

function row(over: Record<string, unknown> = {}) {
  return toOutboxRow({id: 'm-1', status: 'pending', payload: '{"a":1}', createdAt: new Date(), ageMs: '1500', ...over})
}

describe('decideRow', () => {
  it('follows its decision table', () => {
    expect(decideRow('confirmed', 9, true, 10)).toBe('sent')
    expect(decideRow('returned', 8, true, 10)).toBe('retry')
    expect(decideRow('returned', 9, true, 10)).toBe('dead-letter')
    expect(decideRow('nacked', 0, true, 1)).toBe('dead-letter')
    expect(decideRow('invalid', null, true, 2)).toBe('retry')
    expect(decideRow('nacked', null, false, 1)).toBe('retry')
  })
})

describe('openTransactions', () => {
  it('--in-flight 1: one transaction at a time', () => expect(openTransactions(1)).toBe(1))
  it('--in-flight N > 1: N waiting for confirms and as many committing', () => {
    expect(openTransactions(2)).toBe(4)
    expect(openTransactions(3)).toBe(6)
  })
})

describe('toMessage', () => {
  it('uses the row id as message id, the payload JSON text as body, and the row exchange and routing key', () => {
    const m = toMessage(row({exchange: 'orders', routingKey: 'order.paid', headers: '{"x-tenant":"t1"}', eventType: 'order.paid'}), reference, '2026-01-01T00:00:00.000Z')
    expect('invalid' in m).toBe(false)
    if ('invalid' in m) return
    expect(m).toMatchObject({exchange: 'orders', routingKey: 'order.paid', properties: {messageId: 'm-1', contentType: 'application/json', type: 'order.paid'}})
    expect(m.properties.headers).toEqual({'x-tenant': 't1', 'x-msgops-drained-at': '2026-01-01T00:00:00.000Z'})
    expect(m.body.toString()).toBe('{"a":1}')
  })

  it('adds no header of its own unless asked: the row\'s headers as written, no table at all when it has none', () => {
    const own = toMessage(row({exchange: 'orders', headers: '{"traceparent":"00-ab-cd-01"}'}), reference)
    expect('invalid' in own ? own.invalid : own.properties.headers).toEqual({traceparent: '00-ab-cd-01'})
    const none = toMessage(row({exchange: 'orders', headers: null}), reference)
    expect('invalid' in none ? none.invalid : Object.keys(none.properties)).toEqual(['messageId', 'contentType'])
    const marked = toMessage(row({exchange: 'orders', headers: null}), reference, '2026-01-01T00:00:00.000Z')
    expect('invalid' in marked ? marked.invalid : marked.properties.headers).toEqual({'x-msgops-drained-at': '2026-01-01T00:00:00.000Z'})
  })

  it('normalises a payload that MySQL 8 returned as an object', () => {
    const m = toMessage(row({payload: {a: [1, 2]}, exchange: 'x'}), reference, 'now')
    expect('invalid' in m ? '' : m.body.toString()).toBe('{"a":[1,2]}')
  })

  it('falls back to the configured exchange and routing key; without either the row is invalid', () => {
    const m = toMessage(row({status: 1}), integer, 'now')
    expect(m).toMatchObject({exchange: 'order_exchange', routingKey: 'order.created'})
    expect(toMessage(row(), reference, 'now')).toEqual({invalid: expect.stringMatching(/no exchange/)})
  })

  it('keeps the default exchange (empty name) of a row', () => {
    expect(toMessage(row({exchange: '', routingKey: 'q1'}), reference, 'now')).toMatchObject({exchange: '', routingKey: 'q1'})
  })
})

describe('payload and status helpers', () => {
  it('payloadText and parseJsonValue accept strings, buffers and objects', () => {
    expect(payloadText('{"a":1}')).toBe('{"a":1}')
    expect(payloadText(Buffer.from('[1]'))).toBe('[1]')
    expect(payloadText({a: 1})).toBe('{"a":1}')
    expect(payloadText(null)).toBe('null')
    expect(parseJsonValue('{"a":1}')).toEqual({a: 1})
    expect(parseJsonValue('not json')).toBe('not json')
    expect(headersOf('[1,2]')).toEqual({})
    expect(headersOf(null)).toEqual({})
  })

  it('parseStatus and statusName work with string and integer statuses', () => {
    expect(parseStatus(reference, 'dead-letter')).toBe('dead_letter')
    expect(parseStatus(reference, 'Dead_Letter')).toBe('dead_letter')
    expect(parseStatus(integer, 'sent')).toBe(2)
    expect(parseStatus(integer, '3')).toBe(3)
    expect(parseStatus(integer, '7')).toBeUndefined()
    expect(statusName(integer, 1)).toBe('pending')
    expect(statusName(integer, '3')).toBe('dead-letter')
    expect(statusName(integer, 9)).toBe('9')
  })

  it('refuses statuses that are not three different values', () => {
    const config = integerConfig()
    config.outbox.statuses = {pending: 1, sent: 1, deadLetter: 3}
    expect(() => outboxTableFrom(config, DEFAULTS.outbox.columns)).toThrow(ConfigError)
  })
})

describe('OutboxRepository SQL', () => {
  it('quotes the mapped names and passes every value as a parameter', () => {
    const repo = new OutboxRepository(integer)
    const w = repo.where({status: 1, olderThanMs: 30_000, afterId: "x' OR 1=1", ids: ['a', 'b'], availableOnly: true})
    expect(w.sql).toBe('WHERE `messageStatus` = ? AND `addTime` <= NOW(3) - INTERVAL ? MICROSECOND AND `messageId` IN (?) AND `messageId` > ?')
    expect(w.params).toEqual([1, 30_000_000, ['a', 'b'], "x' OR 1=1"])
    expect(repo.selectList()).toContain('NULL AS `attempts`')
    expect(repo.hasAttempts).toBe(false)
  })

  it('reads the optional columns where they exist', () => {
    const w = new OutboxRepository(reference).where({errorContains: '%', eventType: 'e', availableOnly: true})
    expect(w.sql).toBe('WHERE `event_type` = ? AND LOCATE(?, `last_error`) > 0 AND (`available_at` IS NULL OR `available_at` <= NOW(3))')
  })
})

describe('status decisions', () => {
  it('statusAlerts follows its decision table', () => {
    const report = {oldestPendingAgeMs: 700_000, counts: {pending: 3, 'dead-letter': 2}}
    expect(statusAlerts(report, {})).toEqual([])
    expect(statusAlerts(report, {failIfPendingOlderThanMs: 600_000})).toHaveLength(1)
    expect(statusAlerts(report, {failIfPendingOlderThanMs: 800_000})).toHaveLength(0)
    expect(statusAlerts({oldestPendingAgeMs: null, counts: {}}, {failIfPendingOlderThanMs: 1, failIfDeadLetters: 1})).toEqual([])
    expect(statusAlerts(report, {failIfDeadLetters: 2})).toEqual(['2 dead-letter rows (threshold 2)'])
    expect(statusAlerts(report, {failIfDeadLetters: 3})).toEqual([])
  })

  it('estimateCounts follows its decision table, a row each', () => {
    // One status past the cap: the rest of the table statistics, at least COUNT_CAP.
    expect(estimateCounts(9_700_000, [0])).toEqual([{n: 9_700_000, lowerBound: false}])
    expect(estimateCounts(50_000, [0])).toEqual([{n: COUNT_CAP, lowerBound: false}])
    // Several: the biggest range takes the rest less COUNT_CAP for each other one; the others are lower bounds.
    expect(estimateCounts(9_700_000, [178_876, 4_847_930])).toEqual([{n: COUNT_CAP, lowerBound: true}, {n: 9_700_000 - COUNT_CAP, lowerBound: false}])
    expect(estimateCounts(150_000, [4_847_930, 221_130, 178_876])).toEqual([{n: COUNT_CAP, lowerBound: false}, {n: COUNT_CAP, lowerBound: true}, {n: COUNT_CAP, lowerBound: true}])
  })

  it('buckets attempts', () => {
    expect([0, 1, 2, 3, 5, 6, 9, 10, 99].map(attemptsBucket)).toEqual(['0', '1', '2', '3-5', '3-5', '6-9', '6-9', '10+', '10+'])
  })

  it('metrics are valid Prometheus text', () => {
    const text = formatMetrics(statusMetrics({
      table: 'outbox', counts: {pending: 2, sent: 5, 'dead-letter': 0}, statusValues: {pending: 'pending', sent: 'sent', deadLetter: 'dead_letter'}, total: 7,
      oldestPendingAgeMs: 1500, stuckAfterMs: 300_000, stuck: 0, attempts: null, sentRecently: {'1m': 1, '5m': 2, '1h': 5}, sentBasis: 'sent_at', approximate: [], topEventTypes: null, alerts: [], notes: [],
    }))
    expect(text).toContain('msgops_outbox_rows{table="outbox",status="pending"} 2')
    expect(text).toContain('msgops_outbox_oldest_pending_age_seconds{table="outbox"} 1.5')
    expect(text).toContain('msgops_outbox_sent_recent_rows{table="outbox",window="5m"} 2')
  })

  it('renders a drain summary with its failures', () => {
    const text = renderDrain({
      dryRun: false, cancelled: false, interrupted: true, eligible: 3, published: 2, returned: 1, nacked: 0, invalid: 0, deadLettered: 1, remaining: 0, batches: 1,
      skipLocked: true, elapsedMs: 10, rate: 200, failures: [{id: 'm-9', outcome: 'returned', reason: '312 NO_ROUTE', deadLettered: true}], sample: [], notes: [], idle: null,
    })
    expect(text).toContain('312 NO_ROUTE')
    expect(text).toContain('stopped early')
  })
})

describe('sortBatch (rows set aside before publishing)', () => {
  const message = (exchange: string) => ({exchange, routingKey: 'k', body: Buffer.from('{}'), properties: {}})

  it('follows its decision table', () => {
    const sorted = sortBatch(
      [
        {row: 'no-exchange', message: {invalid: 'no exchange: the row has none'}},
        {row: 'to-missing', message: message('gone.x')},
        {row: 'to-existing', message: message('orders.x')},
        {row: 'to-default', message: message('')},
      ],
      new Set(['gone.x']),
    )
    expect(sorted.publish.map((p) => p.row)).toEqual(['to-existing', 'to-default'])
    expect(sorted.setAside).toEqual([
      {row: 'no-exchange', reason: 'no exchange: the row has none'},
      {row: 'to-missing', reason: 'exchange "gone.x" does not exist'},
    ])
  })

  it('sets nothing aside when no exchange is missing', () => {
    expect(sortBatch([{row: 1, message: message('a')}], new Set()).setAside).toEqual([])
  })
})

describe('idleReason (why a drain had nothing to do)', () => {
  it('follows its decision table', () => {
    expect(idleReason({pending: 0, younger: 0, notAvailable: 0}, 30_000, true, false).reason).toBe('no pending rows')
    expect(idleReason({pending: 0, younger: 0, notAvailable: 0}, 30_000, false, true).reason).toBe('none of the given rows is pending')
    expect(idleReason({pending: 100, younger: 100, notAvailable: 0}, 30_000, true, false).reason).toBe('100 pending rows are younger than --older-than 30s (the default)')
    expect(idleReason({pending: 1, younger: 1, notAvailable: 0}, 60_000, false, false).reason).toBe('1 pending row is younger than --older-than 1m')
    expect(idleReason({pending: 12, younger: 0, notAvailable: 12}, undefined, true, false).reason).toBe('12 pending rows are not available yet (available_at in the future)')
    expect(idleReason({pending: 1300, younger: 100, notAvailable: 1200}, 30_000, false, false).reason).toBe(
      '100 pending rows are younger than --older-than 30s; 1,200 pending rows are not available yet (available_at in the future)',
    )
    expect(idleReason({pending: 3, younger: 0, notAvailable: 0}, 30_000, true, false).reason).toBe('no pending row was eligible when counted')
  })
})

describe('a table without a time column', () => {
  const columns = {...DEFAULTS.outbox.columns, createdAt: null}
  const timeless = outboxTableFrom(DEFAULTS, columns)

  it('is a valid mapping: createdAt may be null, and is not required', () => {
    expect(outboxColumns.safeParse(columns).success).toBe(true)
    expect(outboxColumns.safeParse({...columns, id: null}).success).toBe(false)
    expect(REQUIRED_COLUMNS.outbox).not.toContain('createdAt')
  })

  it('reads ages as NULL and refuses an age filter, naming the flag', () => {
    const repo = new OutboxRepository(timeless)
    expect(repo.selectList()).toContain('NULL AS `createdAt`')
    expect(repo.selectList()).toContain('NULL AS `ageMs`')
    expect(toOutboxRow({id: 'x', status: 'pending', payload: '{}', createdAt: null, ageMs: null}).ageMs).toBeNull()
    expect(() => repo.where({olderThanMs: 1000})).toThrow(UsageError)
    expect(() => repo.where({newerThanMs: 1000})).toThrow(/--newer-than cannot apply/)
    expect(repo.where({status: 'pending'}).sql).toBe('WHERE `status` = ?')
  })

  it('the exchange filter matches the row column, and NULL rows only when the name is outbox.exchange', () => {
    const config = structuredClone(DEFAULTS)
    config.outbox.exchange = 'fallback.x'
    const repo = new OutboxRepository(outboxTableFrom(config, DEFAULTS.outbox.columns))
    expect(repo.where({exchange: 'fallback.x'})).toEqual({sql: 'WHERE (`exchange` = ? OR `exchange` IS NULL)', params: ['fallback.x']})
    expect(repo.where({exchange: 'other.x'})).toEqual({sql: 'WHERE `exchange` = ?', params: ['other.x']})
    const noColumn = new OutboxRepository(outboxTableFrom(config, {...DEFAULTS.outbox.columns, exchange: null}))
    expect(noColumn.where({exchange: 'fallback.x'}).sql).toBe('')
    expect(noColumn.where({exchange: 'other.x'}).sql).toBe('WHERE FALSE')
  })

  it('status metrics leave out the ages rather than report 0', () => {
    const text = formatMetrics(statusMetrics({
      table: 'plain', counts: {pending: 2, sent: 0, 'dead-letter': 0}, statusValues: {pending: 0, sent: 1, deadLetter: 2}, total: 2,
      oldestPendingAgeMs: null, stuckAfterMs: 300_000, stuck: null, attempts: null, sentRecently: null, sentBasis: null, approximate: [], topEventTypes: null, alerts: [], notes: ['no time column'],
    }))
    expect(text).toContain('msgops_outbox_rows{table="plain",status="pending"} 2')
    expect(text).not.toContain('oldest_pending_age')
    expect(text).not.toContain('stuck_rows')
  })
})
