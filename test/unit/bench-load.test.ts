import {describe, expect, it} from 'vitest'

import {schemaKeys, TIME_INDEXES} from '../../bench/_load.js'
import {DEFAULTS} from '../../src/config/defaults.js'

describe('bench/_load.ts schemaKeys', () => {
  it('reads the reference schema keys of orders, outbox and inbox, the time indexes among them', () => {
    const keys = schemaKeys(DEFAULTS)
    const names = keys.map((k) => `${k.table}.${k.name}`)
    expect(names).toContain('orders.PRIMARY')
    expect(names).toContain('outbox.idx_outbox_aggregate_id')
    expect(keys.find((k) => k.name === 'uq_inbox_message_consumer')).toEqual({table: 'inbox', name: 'uq_inbox_message_consumer', unique: true, columns: ['message_id', 'consumer']})
    expect(keys.find((k) => k.name === 'idx_outbox_status_created')).toEqual({table: 'outbox', name: 'idx_outbox_status_created', unique: false, columns: ['status', 'created_at']})
    for (const name of TIME_INDEXES) expect(keys.map((k) => k.name)).toContain(name)
    // The audit table is not the loaders' business.
    expect(names.some((n) => n.startsWith(`${DEFAULTS.audit.table}.`))).toBe(false)
  })

  it('follows the mapping: a column mapped to null leaves its key out, names as configured', () => {
    const config = {...DEFAULTS, outbox: {...DEFAULTS.outbox, table: 'events', columns: {...DEFAULTS.outbox.columns, sentAt: null}}}
    const names = schemaKeys(config).map((k) => `${k.table}.${k.name}`)
    expect(names).toContain('events.PRIMARY')
    expect(names).not.toContain('events.idx_outbox_sent_at')
    expect(names.some((n) => n.startsWith('outbox.'))).toBe(false)
  })
})
