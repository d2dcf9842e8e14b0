import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {flattenConfig, loadConfig} from '../../src/config/load.js'
import {DEFAULT_ERROR_HEADERS} from '../../src/config/defaults.js'
import {ConfigError} from '../../src/core/errors.js'
import {renderConfig} from '../../src/render/config.js'

const made: string[] = []
afterAll(() => {
  for (const dir of made) rmSync(dir, {recursive: true, force: true})
})

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'msgops-cfg-'))
  made.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const noEnv = {XDG_CONFIG_HOME: '/nonexistent-msgops'}

describe('loadConfig', () => {
  it('uses the local defaults when nothing is configured', () => {
    const {config, sources, file} = loadConfig({env: noEnv, cwd: dirWith({})})
    expect(file).toBeUndefined()
    expect(config.mysql.url).toBe('mysql://root@127.0.0.1:3306/test')
    expect(config.outbox.statuses.pending).toBe('pending')
    expect(sources['mysql.url']).toBe('default')
  })

  it('merges file, profile, env and flags, later wins, and records where each value came from', () => {
    const cwd = dirWith({
      'msgops.yaml': `
mysql: {url: "mysql://file@127.0.0.1/a"}
amqp: {url: "amqp://file@127.0.0.1"}
redis: {url: "redis://127.0.0.1:6380"}
outbox: {table: order_mq_tab}
profiles:
  prod:
    amqp: {url: "amqp://profile@127.0.0.1"}
    redis: {url: "redis://127.0.0.1:6381"}
`,
    })
    const {config, sources, profile} = loadConfig({
      cwd,
      profile: 'prod',
      env: {...noEnv, MSGOPS_REDIS_URL: 'redis://127.0.0.1:6382'},
      flags: {mysqlUrl: 'mysql://flag@127.0.0.1/b'},
    })
    expect(profile).toBe('prod')
    expect(config.mysql.url).toBe('mysql://flag@127.0.0.1/b')
    expect(sources['mysql.url']).toBe('flag')
    expect(config.amqp.url).toBe('amqp://profile@127.0.0.1')
    expect(sources['amqp.url']).toBe('profile')
    expect(config.redis.url).toBe('redis://127.0.0.1:6382')
    expect(sources['redis.url']).toBe('env')
    expect(config.outbox.table).toBe('order_mq_tab')
    expect(sources['outbox.table']).toBe('file')
    expect(sources['outbox.columns.id']).toBe('default')
  })

  it('maps the integer-status schema of DESIGN.md, keeping unmapped columns at their defaults', () => {
    const cwd = dirWith({
      'msgops.yaml': `
outbox:
  table: order_mq_tab
  columns: { id: messageId, payload: messageContent, status: messageStatus, createdAt: addTime }
  statuses: { pending: 1, sent: 2, deadLetter: 3 }
  exchange: order_exchange
  routingKey: order.created
inbox:
  table: consumer_mq_tab
  columns: { messageId: messageId, status: messageStatus, receivedAt: addTime }
  statuses: { processed: 1, failed: 0 }
orders:
  table: order_tab
  columns: { id: orderId, messageId: messageId }
cache:
  keyPattern: "order:{id}"
`,
    })
    const {config} = loadConfig({cwd, env: noEnv})
    expect(config.outbox.statuses).toEqual({pending: 1, sent: 2, deadLetter: 3})
    expect(config.outbox.columns.status).toBe('messageStatus')
    expect(config.outbox.columns.attempts).toBe('attempts')
    expect(config.inbox.statuses.received).toBe('received')
    expect(config.orders.columns.id).toBe('orderId')
  })

  it('accepts null for a column the table does not have', () => {
    const cwd = dirWith({'msgops.yaml': 'outbox:\n  columns: {exchange: null, routingKey: null}\n'})
    expect(loadConfig({cwd, env: noEnv}).config.outbox.columns.exchange).toBeNull()
  })

  it('dlq.errorHeaders defaults to the well-known headers; a file or profile list replaces it whole', () => {
    const defaults = loadConfig({cwd: dirWith({}), env: noEnv})
    expect(defaults.config.dlq.errorHeaders).toEqual(DEFAULT_ERROR_HEADERS)
    expect(defaults.sources['dlq.errorHeaders']).toBe('default')
    const cwd = dirWith({'msgops.yaml': 'dlq:\n  errorHeaders: [x-app-error, x-error]\nprofiles:\n  quiet:\n    dlq: {errorHeaders: []}\n'})
    const file = loadConfig({cwd, env: noEnv})
    expect(file.config.dlq.errorHeaders).toEqual(['x-app-error', 'x-error'])
    expect(file.sources['dlq.errorHeaders']).toBe('file')
    // An empty list groups dead letters without their error text.
    const quiet = loadConfig({cwd, env: noEnv, profile: 'quiet'})
    expect(quiet.config.dlq.errorHeaders).toEqual([])
    expect(quiet.sources['dlq.errorHeaders']).toBe('profile')
  })

  const bad: [string, string, RegExp][] = [
    ['an injected table name', 'outbox:\n  table: "orders; DROP TABLE x"\n', /outbox\.table: must be a SQL identifier/],
    ['an injected column name', 'inbox:\n  columns: {status: "status`; --"}\n', /inbox\.columns\.status: must be a SQL identifier/],
    ['an unknown top-level key', 'mysqll: {url: "mysql://x@127.0.0.1/a"}\n', /mysqll: unknown key/],
    ['an unknown nested key', 'outbox:\n  colums: {id: x}\n', /outbox\.colums: unknown key/],
    ['a wrong type', 'outbox:\n  statuses: {pending: [1]}\n', /outbox\.statuses\.pending: expected a string or an integer/],
    ['a bad URL scheme', 'mysql: {url: "postgres://127.0.0.1/x"}\n', /mysql\.url: must be a MySQL URL/],
    ['a URL with one slash', 'amqp: {url: "amqp:/u:PASS@127.0.0.1"}\n', /amqp\.url: must be a AMQP URL/],
    ['a URL without a host', 'redis: {url: "redis://"}\n', /redis\.url: must be a Redis URL/],
    ['a bad duration', 'connectTimeout: soon\n', /connectTimeout: must be a duration/],
    ['a key pattern without {id}', 'cache: {keyPattern: "order:"}\n', /cache\.keyPattern: must contain \{id\}/],
    ['a bad cache format', 'cache: {format: xml}\n', /cache\.format: expected one of/],
    ['YAML syntax', 'outbox: [\n', /not valid YAML/],
    ['a list at the top', '- a\n- b\n', /must hold a map/],
    ['an empty file', '\n', /is empty/],
    ['error headers given as one string', 'dlq: {errorHeaders: x-error}\n', /dlq\.errorHeaders: expected array/],
    ['an empty error header name', 'dlq: {errorHeaders: [x-error, ""]}\n', /dlq\.errorHeaders\[1\]: /],
    ['a misspelt dlq key', 'dlq: {errorHeader: [x-error]}\n', /dlq\.errorHeader: unknown key/],
    ['a bad profile', 'profiles:\n  prod:\n    outbox: {table: "x y"}\n', /profiles\.prod\.outbox\.table: must be a SQL identifier/],
  ]
  for (const [what, yaml, message] of bad) {
    it(`refuses ${what} with one line naming the key`, () => {
      const cwd = dirWith({'msgops.yaml': yaml})
      let error: unknown
      try {
        loadConfig({cwd, env: noEnv})
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toMatch(message)
      expect((error as Error).message).not.toContain('\n')
    })
  }

  it('never echoes a URL value, which may hold a password', () => {
    const cwd = dirWith({'msgops.yaml': 'mysql: {url: "mysq://root:s3cret@127.0.0.1/x"}\n'})
    expect(() => loadConfig({cwd, env: noEnv})).toThrow(/mysql\.url/)
    try {
      loadConfig({cwd, env: noEnv})
    } catch (error) {
      expect((error as Error).message).not.toContain('s3cret')
    }
  })

  it('refuses an env value of the wrong form, naming the variable source', () => {
    expect(() => loadConfig({cwd: dirWith({}), env: {...noEnv, MSGOPS_AMQP_URL: 'nope'}})).toThrow(/environment \(MSGOPS_\*\): amqp\.url/)
  })

  it('refuses a profile that is not defined and lists the known ones', () => {
    const cwd = dirWith({'msgops.yaml': 'profiles:\n  prod: {}\n  staging: {}\n'})
    expect(() => loadConfig({cwd, env: noEnv, profile: 'qa'})).toThrow(/profile "qa" is not defined/)
    try {
      loadConfig({cwd, env: noEnv, profile: 'qa'})
    } catch (error) {
      expect((error as ConfigError).suggestion).toBe('use one of: prod, staging')
    }
  })

  it('refuses a --config path that does not exist', () => {
    expect(() => loadConfig({cwd: dirWith({}), env: noEnv, configPath: 'missing.yaml'})).toThrow(/missing\.yaml does not exist/)
  })

  it('finds the file in $XDG_CONFIG_HOME/msgops/config.yaml', () => {
    const xdg = dirWith({})
    const dir = join(xdg, 'msgops')
    mkdirSync(dir)
    writeFileSync(join(dir, 'config.yaml'), 'outbox: {table: xdg_outbox}\n')
    const {config, file} = loadConfig({cwd: dirWith({}), env: {XDG_CONFIG_HOME: xdg}})
    expect(file).toBe(join(dir, 'config.yaml'))
    expect(config.outbox.table).toBe('xdg_outbox')
  })

  it('flattens to one row per leaf value with its source', () => {
    const loaded = loadConfig({cwd: dirWith({}), env: {...noEnv, MSGOPS_MYSQL_URL: 'mysql://u:p@127.0.0.1/x'}})
    const rows = flattenConfig(loaded.config, loaded.sources)
    expect(rows.find((r) => r.key === 'mysql.url')).toEqual({key: 'mysql.url', value: 'mysql://u:p@127.0.0.1/x', source: 'env'})
    expect(rows.find((r) => r.key === 'outbox.columns.sentAt')?.source).toBe('default')
    expect(rows.find((r) => r.key === 'dlq.errorHeaders')).toEqual({key: 'dlq.errorHeaders', value: DEFAULT_ERROR_HEADERS, source: 'default'})
  })

  it('config show prints a list as its items, an empty list as (none)', () => {
    expect(renderConfig([{key: 'dlq.errorHeaders', value: ['x-app-error', 'x-error'], source: 'file'}])).toContain('x-app-error, x-error')
    expect(renderConfig([{key: 'dlq.errorHeaders', value: [], source: 'profile'}])).toMatch(/dlq\.errorHeaders\W*\(none\)/)
  })
})
