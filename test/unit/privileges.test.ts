import {describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {allows, COMMAND_NEEDS, missingFor, parseGrants} from '../../src/core/privileges.js'

describe('parseGrants', () => {
  it('reads database, table and privileges; column privileges are not the table\'s', () => {
    const grants = parseGrants([
      "GRANT USAGE ON *.* TO `ro`@`%` IDENTIFIED BY PASSWORD '*B69'",
      'GRANT SELECT ON `shop`.* TO `ro`@`%`',
      'GRANT SELECT, UPDATE (`status`, `attempts`) ON `shop`.`outbox` TO `ro`@`%`',
      'GRANT INSERT ON `shop`.`msgops_audit` TO `ro`@`%`',
    ])!
    expect(allows(grants, 'shop', 'orders', 'SELECT')).toBe(true)
    expect(allows(grants, 'SHOP', 'OUTBOX', 'SELECT')).toBe(true)
    expect(allows(grants, 'shop', 'outbox', 'UPDATE')).toBe(false)
    expect(allows(grants, 'shop', 'msgops_audit', 'INSERT')).toBe(true)
    expect(allows(grants, 'other', 'orders', 'SELECT')).toBe(false)
  })
  it('ALL PRIVILEGES on *.* and database wildcards allow everything they cover', () => {
    expect(allows(parseGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION'])!, 'x', 'y', 'DELETE')).toBe(true)
    expect(allows(parseGrants(['GRANT SELECT, DELETE ON `shop\\_%`.* TO `u`@`%`'])!, 'shop_eu', 'outbox', 'DELETE')).toBe(true)
  })
  it('a role grant cannot be read with certainty: unknown, and then nothing is refused', () => {
    expect(parseGrants(['GRANT `app_role` TO `u`@`%`'])).toBeNull()
    expect(missingFor('outbox drain', DEFAULTS, 'shop', null)).toEqual([])
  })
})

describe('missingFor (the table of COMMAND_NEEDS)', () => {
  const readOnly = parseGrants(['GRANT SELECT ON `shop`.* TO `ro`@`%`'])!
  it.each(Object.keys(COMMAND_NEEDS))('%s', (command) => {
    const missing = missingFor(command, DEFAULTS, 'shop', readOnly)
    if (command === 'read') expect(missing).toEqual([])
    else expect(missing.length).toBeGreaterThan(0)
  })
  it('names the privilege and the table', () => {
    expect(missingFor('outbox drain', DEFAULTS, 'shop', readOnly)).toEqual(['UPDATE on outbox', 'INSERT on msgops_audit'])
    expect(missingFor('inbox prune', DEFAULTS, 'shop', readOnly)).toEqual(['DELETE on inbox', 'INSERT on msgops_audit'])
  })
})
