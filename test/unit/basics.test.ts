import {describe, expect, it} from 'vitest'

import {sessionLimits} from '../../src/adapters/mysql.js'
import {referenceDdl} from '../../src/core/schema.js'
import {DEFAULTS} from '../../src/config/defaults.js'
import {supportsSkipLocked} from '../../src/core/sql.js'
import {formatDuration, parseDuration} from '../../src/core/duration.js'
import {ConfigError, exitCodeFor, InterruptedError, UsageError} from '../../src/core/errors.js'
import {maskArgv, maskSecrets, maskUrl} from '../../src/core/mask.js'
import {isIdentifier, qid} from '../../src/core/sql.js'
import {formatMetrics} from '../../src/render/metrics.js'

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5s', 1500],
    [' 2W ', 1_209_600_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms))

  it.each(['', '10', '-5m', '5 minutes', 'm5', '5x', '1e9s', '99999999d', '5m-', 'ünïcode'])('refuses %j with a usage error', (text) => {
    expect(() => parseDuration(text, '--older-than')).toThrow(UsageError)
    try {
      parseDuration(text, '--older-than')
    } catch (error) {
      expect((error as Error).message).toMatch(/^--older-than /)
    }
  })

  it('formats durations for people', () => {
    expect(formatDuration(45_000)).toBe('45s')
    expect(formatDuration(3_900_000)).toBe('1h 5m')
    expect(formatDuration(2 * 86_400_000 + 4 * 3_600_000)).toBe('2d 4h')
    expect(formatDuration(120)).toBe('120ms')
  })
})

describe('identifiers', () => {
  it.each(['orders', 'order_mq_tab', '_x', 'messageId', 'a$b'])('accepts %s', (name) => expect(isIdentifier(name)).toBe(true))
  it.each(['orders; DROP TABLE x', 'a b', '1abc', '', 'a`b', 'x'.repeat(65), 'naïve', 'a-b', 'a.b'])('refuses %j', (name) => {
    expect(isIdentifier(name)).toBe(false)
    expect(() => qid(name)).toThrow(ConfigError)
  })
  it('quotes with backticks', () => expect(qid('order_tab')).toBe('`order_tab`'))
})

describe('masking', () => {
  it('masks the password of a URL and keeps the rest', () => {
    expect(maskUrl('mysql://root:s3cret@127.0.0.1:1/x')).toBe('mysql://root:****@127.0.0.1:1/x')
    expect(maskUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379')
    expect(maskUrl('redis://:onlypass@127.0.0.1:6379')).toBe('redis://:****@127.0.0.1:6379')
  })
  it('masks malformed URLs that parsers still accept', () => {
    expect(maskSecrets('amqp:/u:PASS@127.0.0.1')).toBe('amqp:/u:****@127.0.0.1')
    expect(maskSecrets('redis:u:PASS@127.0.0.1')).toBe('redis:u:****@127.0.0.1')
  })
  it('masks every URL inside a text', () => {
    expect(maskSecrets('a amqp://u:p1@h b http://x:p2@y/z')).toBe('a amqp://u:****@h b http://x:****@y/z')
  })
  it('masks argv: URLs and values of secret flags', () => {
    expect(maskArgv(['--mysql-url', 'mysql://a:b@h/d', '--password', 'pw', '--token=abc', '--limit', '5'])).toEqual([
      '--mysql-url', 'mysql://a:****@h/d', '--password', '****', '--token=****', '--limit', '5',
    ])
  })
})

describe('supportsSkipLocked', () => {
  it.each([
    ['10.11.19-MariaDB-0+deb12u1', true],
    ['10.6.0-MariaDB', true],
    ['10.5.23-MariaDB', false],
    ['11.4.2-MariaDB', true],
    ['8.0.36', true],
    ['8.0.1', true],
    ['8.0.0', false],
    ['5.7.44-log', false],
    ['9.1.0', true],
    ['garbage', false],
  ])('%s → %s', (version, expected) => expect(supportsSkipLocked(version)).toBe(expected))
})

describe('exit codes', () => {
  it('maps errors in one place', () => {
    expect(exitCodeFor(new UsageError('x'))).toBe(2)
    expect(exitCodeFor(new InterruptedError())).toBe(130)
    expect(exitCodeFor(new Error('bug'))).toBe(2)
  })
})

describe('referenceDdl', () => {
  it('uses the configured names, quotes them, and leaves out null columns', () => {
    const config = structuredClone(DEFAULTS)
    config.outbox.table = 'order_mq_tab'
    config.outbox.columns.id = 'messageId'
    config.outbox.columns.exchange = null
    config.outbox.statuses = {pending: 1, sent: 2, deadLetter: 3}
    const ddl = referenceDdl(config).join('\n')
    expect(ddl).toContain('CREATE TABLE IF NOT EXISTS `order_mq_tab`')
    expect(ddl).toContain('`messageId` VARCHAR(64) NOT NULL')
    expect(ddl).toContain('`status` INT NOT NULL DEFAULT 1')
    expect(ddl).not.toContain('`exchange`')
  })
})

describe('formatMetrics', () => {
  it('writes the Prometheus text format with escaped labels', () => {
    const text = formatMetrics([{name: 'msgops_x', help: 'X.', type: 'gauge', samples: [{labels: {status: 'a"b'}, value: 3}, {value: 1.5}]}])
    expect(text).toBe('# HELP msgops_x X.\n# TYPE msgops_x gauge\nmsgops_x{status="a\\"b"} 3\nmsgops_x 1.5\n')
  })
})

describe('MySQL session limits', () => {
  it('outlast a drain waiting for confirms, and the pool lets an idle session go before the server does', () => {
    expect(sessionLimits(300_000)).toEqual({waitTimeoutS: 660, idleTimeoutMs: 60_000})
    expect(sessionLimits(10_000)).toEqual({waitTimeoutS: 80, idleTimeoutMs: 40_000})
    // The drain's statement timeout is max(--timeout, 10 s), --timeout at most 10 m; it waits --timeout + 5 s for confirms.
    for (const timeoutMs of [100, 3000, 10_000, 30_000, 300_000, 600_000]) {
      const {waitTimeoutS, idleTimeoutMs} = sessionLimits(Math.max(timeoutMs, 10_000))
      expect(waitTimeoutS * 1000).toBeGreaterThanOrEqual(2 * (timeoutMs + 5000))
      expect(idleTimeoutMs).toBeLessThanOrEqual((waitTimeoutS * 1000) / 2)
    }
  })
})
