/**
 * A generated corpus of bad inputs: configuration files, flags, arguments and environment variables that msgops
 * must refuse with exit 2 and one line. Each case carries a password in a URL (SECRET) where it can, to prove
 * that no error ever prints it.
 */
export const SECRET = 'Xq9-sEcReT-pw-7731'

export interface BadInput {
  name: string
  category: string
  args: string[]
  /** Files to write in the case's directory; `{dir}` in args is replaced by that directory. */
  files?: Record<string, string>
  env?: Record<string, string>
  /** A text the one line must contain (what is wrong), when it is known. */
  mentions?: string
}

/** Commands that read the configuration before connecting anywhere, so that a bad input fails fast. */
const CHEAP: string[][] = [
  ['config', 'show'],
  ['outbox', 'status'],
  ['outbox', 'drain', '--dry-run'],
  ['reconcile'],
  ['doctor'],
  ['topology', 'plan', '{dir}/topology.yaml'],
  ['outbox', 'list'],
  ['dlq', 'inspect', 'work.dlq'],
]

const TOPOLOGY_OK = 'exchanges:\n  - {name: orders.x, type: topic}\nqueues:\n  - {name: orders.q}\n'

const WRONG_TYPES: [string, string][] = [
  ['123', 'a number'],
  ['[1, 2]', 'a list'],
  ['{a: 1}', 'a map'],
  ['true', 'a boolean'],
  ['""', 'an empty string'],
]

/** Keys whose value must be an identifier or a string: each gets every wrong type. */
const STRING_KEYS = [
  'outbox.table', 'outbox.columns.id', 'outbox.columns.payload', 'outbox.columns.status', 'outbox.columns.createdAt',
  'inbox.table', 'inbox.columns.messageId', 'orders.table', 'orders.columns.id', 'audit.table',
  'mysql.url', 'amqp.url', 'redis.url', 'redis.keyPrefix', 'connectTimeout', 'cache.keyPattern', 'cache.format',
]

const SQL_IDENTIFIERS = [
  'outbox; DROP TABLE orders', "x' OR '1'='1", 'a`b', '`outbox`', 'outbox--', 'outbox/*x*/', 'a b', 'db.outbox',
  'x\\"; SELECT 1', '1=1)', 'x'.repeat(65), 'ordérs', '订单', 'order\u200b', 'tab\u202eelbat', '🧨',
]
const IDENTIFIER_KEYS = ['outbox.table', 'outbox.columns.status', 'inbox.table', 'orders.columns.id', 'audit.table']

const NUMBERS = ['1e400', '-1e400', '.nan', '.inf', '1.5', '9007199254740993.5', '[]', '{}', 'true', '~']
const BAD_DURATIONS = ['-5s', '5', 'abc', '1e309s', '99999999999999999999d', '5 s', '５s', '0x10s', 'NaNs', 'Infinitys', '-0.5m', '5sec', 's', '1h-2m', '⁵s']
const BAD_URLS: [string, string][] = [
  ['mysql.url', `mysql//u:${SECRET}@127.0.0.1/db`],
  ['mysql.url', `postgres://u:${SECRET}@127.0.0.1/db`],
  ['mysql.url', `mysql://u:${SECRET}@127.0.0.1:99999/db`],
  ['mysql.url', `mysql://u:${SECRET}@[::1/db`],
  ['mysql.url', `http://u:${SECRET}@127.0.0.1/db`],
  ['amqp.url', `amqp:/u:${SECRET}@127.0.0.1`],
  ['amqp.url', `amqps//u:${SECRET}@127.0.0.1`],
  ['amqp.url', `mqtt://u:${SECRET}@127.0.0.1`],
  ['amqp.url', `amqp://u:${SECRET}@127.0.0.1:-1`],
  ['redis.url', `redis:/:${SECRET}@127.0.0.1`],
  ['redis.url', `memcache://:${SECRET}@127.0.0.1`],
  ['redis.url', `redis://:${SECRET}@127.0.0.1:70000`],
  ['management.url', `ftp://u:${SECRET}@127.0.0.1:15672`],
  ['management.url', `http//u:${SECRET}@127.0.0.1:15672`],
  ['management.url', `u:${SECRET}@127.0.0.1:15672`],
]

/** `a.b.c: value` as nested YAML, plus a valid mysql.url with a password so that a leak would show. */
function yamlAt(path: string, value: string, withSecret = true): string {
  const parts = path.split('.')
  const lines = parts.map((p, i) => `${'  '.repeat(i)}${p}:${i === parts.length - 1 ? ` ${value}` : ''}`)
  if (withSecret && parts[0] !== 'mysql') lines.push('mysql:', `  url: "mysql://u:${SECRET}@127.0.0.1:1/db"`)
  return `${lines.join('\n')}\n`
}

function quote(text: string): string {
  return JSON.stringify(text)
}

export function badInputs(): BadInput[] {
  const cases: BadInput[] = []
  let n = 0
  const cheap = () => CHEAP[n++ % CHEAP.length]
  const configCase = (category: string, name: string, yaml: string, mentions?: string) =>
    cases.push({category, name, args: [...cheap(), '--config', '{dir}/msgops.yaml'], files: {'msgops.yaml': yaml, 'topology.yaml': TOPOLOGY_OK}, mentions})

  // Wrong types.
  for (const [k, key] of STRING_KEYS.entries())
    for (const [value, what] of [WRONG_TYPES[k % WRONG_TYPES.length]]) configCase('wrong type', `${key} = ${what}`, yamlAt(key, value), key)
  configCase('wrong type', 'outbox = a string', 'outbox: outbox\n', 'outbox')
  configCase('wrong type', 'outbox.columns = a list', 'outbox:\n  columns: [id, payload]\n', 'outbox.columns')
  configCase('wrong type', 'profiles = a list', 'profiles: [prod]\n', 'profiles')
  configCase('wrong type', 'cache.format = xml', yamlAt('cache.format', 'xml'), 'cache.format')
  configCase('wrong type', 'cache.onDrift = 1', yamlAt('cache.onDrift', '1'), 'cache.onDrift')
  configCase('wrong type', 'cache.keyPattern without {id}', yamlAt('cache.keyPattern', 'order:x'), 'cache.keyPattern')
  configCase('wrong type', 'outbox.columns.id = null', yamlAt('outbox.columns.id', 'null'), 'outbox.columns.id')

  // Unknown keys, at every level.
  for (const yaml of ['mysqll:\n  url: x\n', 'outbox:\n  tabel: x\n', 'outbox:\n  columns:\n    idd: id\n', 'inbox:\n  statuses:\n    done: 1\n',
    'cache:\n  ttl: 5\n', 'redis:\n  password: hunter2\n', `amqp:\n  url: "amqp://u:${SECRET}@127.0.0.1"\n  heartbeat: 5\n`, 'profiles:\n  prod:\n    mysqll: {}\n',
    'Outbox:\n  table: x\n', '"outbox ":\n  table: x\n', '__proto__:\n  polluted: true\n', 'constructor:\n  prototype: {}\n'])
    configCase('unknown key', yaml.split('\n')[0], yaml, 'unknown')

  // Identifiers with SQL (and other non-identifiers) in them.
  for (const [i, id] of SQL_IDENTIFIERS.entries())
    for (const key of [IDENTIFIER_KEYS[i % IDENTIFIER_KEYS.length]]) configCase('sql identifier', `${key} = ${id}`, yamlAt(key, quote(id)), key)

  // Huge, negative and non-numbers where numbers or statuses go.
  for (const value of NUMBERS) configCase('number', `outbox.statuses.pending = ${value}`, yamlAt('outbox.statuses.pending', value), 'outbox.statuses.pending')
  for (const value of BAD_DURATIONS.slice(8, 14)) configCase('duration', `connectTimeout = ${value}`, yamlAt('connectTimeout', quote(value)), 'connectTimeout')

  // Malformed URLs, in the file, in flags and in the environment.
  for (const [key, url] of BAD_URLS) configCase('url', `${key} = ${url.replace(SECRET, '***')}`, yamlAt(key, quote(url), false), key)
  const flagOf: Record<string, string> = {'mysql.url': '--mysql-url', 'amqp.url': '--amqp-url', 'redis.url': '--redis-url', 'management.url': '--management-url'}
  const envOf: Record<string, string> = {'mysql.url': 'MSGOPS_MYSQL_URL', 'amqp.url': 'MSGOPS_AMQP_URL', 'redis.url': 'MSGOPS_REDIS_URL', 'management.url': 'MSGOPS_MANAGEMENT_URL'}
  for (const [key, url] of BAD_URLS) {
    cases.push({category: 'url', name: `${flagOf[key]} ${url.replace(SECRET, '***')}`, args: [...cheap(), flagOf[key], url], files: {'topology.yaml': TOPOLOGY_OK}})
    cases.push({category: 'url', name: `${envOf[key]}=${url.replace(SECRET, '***')}`, args: [...cheap()], env: {[envOf[key]]: url}, files: {'topology.yaml': TOPOLOGY_OK}})
  }
  // Well-formed URLs to nothing: the connection error must mask the password.
  cases.push({category: 'url', name: 'mysql refused', args: ['outbox', 'status', '--mysql-url', `mysql://u:${SECRET}@127.0.0.1:1/db`], mentions: 'MySQL'})
  cases.push({category: 'url', name: 'amqp refused', args: ['dlq', 'inspect', 'work.dlq', '--amqp-url', `amqp://u:${SECRET}@127.0.0.1:1/v`], mentions: 'RabbitMQ'})
  cases.push({category: 'url', name: 'redis refused', args: ['reconcile', '--redis-url', `redis://:${SECRET}@127.0.0.1:1`], mentions: 'Redis'})
  cases.push({category: 'url', name: 'amqp wrong password', args: ['dlq', 'inspect', 'work.dlq', '--amqp-url', `amqp://guest:${SECRET}@127.0.0.1:5672`], mentions: 'RabbitMQ'})
  cases.push({category: 'url', name: 'mysql wrong password', args: ['outbox', 'status', '--mysql-url', `mysql://nosuchuser:${SECRET}@127.0.0.1:3306/db`], mentions: 'MySQL'})

  // Flags: durations, numbers, choices.
  for (const value of BAD_DURATIONS.slice(0, 10)) {
    cases.push({category: 'duration', name: `drain --older-than ${value}`, args: ['outbox', 'drain', '--dry-run', '--older-than', value], mentions: '--older-than'})
  }
  for (const value of BAD_DURATIONS.slice(5, 10)) {
    cases.push({category: 'duration', name: `--connect-timeout ${value}`, args: [...cheap(), '--connect-timeout', value], files: {'topology.yaml': TOPOLOGY_OK}})
  }
  for (const value of BAD_DURATIONS.slice(0, 5)) cases.push({category: 'duration', name: `reconcile --grace ${value}`, args: ['reconcile', '--grace', value], mentions: '--grace'})
  for (const value of ['0s', '50ms', '11m', '-1s', '1e9h']) cases.push({category: 'duration', name: `drain --timeout ${value}`, args: ['outbox', 'drain', '--timeout', value, '--yes'], mentions: '--timeout'})
  for (const value of ['yesterday', '2026-13-45', '9999-99-99 99:99:99', '-1d', "'; DROP TABLE orders; --", '1e9d'])
    cases.push({category: 'duration', name: `reconcile --since ${value}`, args: ['reconcile', '--since', value], mentions: '--since'})
  for (const [flag, values] of [['--batch', ['-1', '0', '10001', '1e3', 'abc', '99999999999999999999', '1.5', '']], ['--limit', ['0', '-5', 'ten']], ['--max-attempts', ['0', '-1']], ['--rate', ['0', '-100']]] as const)
    for (const value of values) cases.push({category: 'number', name: `drain ${flag} ${value}`, args: ['outbox', 'drain', '--dry-run', flag, value], mentions: flag})
  for (const [flag, value] of [['--sample', '-1'], ['--sample', '1001'], ['--batch-size', '0'], ['--batch-size', '50001'], ['--check', 'drop table'], ['--check', 'cache']])
    cases.push({category: 'number', name: `reconcile ${flag} ${value}`, args: ['reconcile', flag, value], mentions: flag})
  cases.push({category: 'flag', name: 'unknown flag', args: ['outbox', 'drain', '--frobnicate'], mentions: 'frobnicate'})
  cases.push({category: 'flag', name: 'fix-dead without fix', args: ['reconcile', '--fix-dead']})
  cases.push({category: 'flag', name: 'replay --to-queue and --to-exchange', args: ['dlq', 'replay', 'q', '--to-queue', 'a', '--to-exchange', 'b', '--dry-run']})
  cases.push({category: 'flag', name: 'replay empty queue name', args: ['dlq', 'replay', '   ', '--dry-run']})
  cases.push({category: 'flag', name: 'replay without queue', args: ['dlq', 'replay']})
  cases.push({category: 'flag', name: 'reconcile --fix --json without --yes', args: ['reconcile', '--fix', '--json'], mentions: '--yes'})

  // Unicode and control characters.
  for (const text of ['ﬁ', '\u0000', 'ａｂｃ', '𝟓s', '\u202e5s', 'é'])
    cases.push({category: 'unicode', name: `drain --older-than ${JSON.stringify(text)}`, args: ['outbox', 'drain', '--dry-run', '--older-than', text.replace('\u0000', '\\0')], mentions: '--older-than'})
  configCase('unicode', 'BOM and non-breaking spaces', '\ufeffoutbox:\n\u00a0\u00a0table: x\n')
  configCase('unicode', 'latin-1 bytes', 'outbox:\n  table: \xe9\xe8\n', 'outbox.table')

  // Empty and broken files.
  for (const [name, text] of [['empty', ''], ['blank', '   \n\n'], ['comment only', '# nothing\n'], ['document marker', '---\n'], ['null', 'null\n'], ['a list', '- a\n- b\n'], ['a number', '42\n'], ['a string', "'msgops'\n"],
    ['bad yaml', 'outbox: [\n'], ['tabs', 'outbox:\n\ttable: x\n'], ['duplicate key', 'outbox: {}\noutbox: {}\n'], ['anchor bomb', 'a: &a [1]\nb: *c\n']] as const)
    configCase('file', `config file: ${name}`, text)
  cases.push({category: 'file', name: 'config file missing', args: ['config', 'show', '--config', '{dir}/nope.yaml']})
  cases.push({category: 'file', name: 'config file is a directory', args: ['config', 'show', '--config', '{dir}']})
  cases.push({category: 'file', name: 'profile missing', args: ['config', 'show', '--config', '{dir}/msgops.yaml', '--profile', 'prod'], files: {'msgops.yaml': 'profiles:\n  staging: {}\n'}, mentions: 'prod'})
  cases.push({category: 'file', name: 'MSGOPS_PROFILE missing', args: ['config', 'show', '--config', '{dir}/msgops.yaml'], env: {MSGOPS_PROFILE: 'nope'}, files: {'msgops.yaml': 'profiles:\n  staging: {}\n'}})
  cases.push({category: 'file', name: 'MSGOPS_REDIS_KEY_PREFIX bad', args: ['config', 'show'], env: {MSGOPS_REDIS_KEY_PREFIX: 'has space'}})
  for (const [name, text] of [['empty', ''], ['bad yaml', 'exchanges: [\n'], ['wrong type', 'exchanges: 5\n'], ['unknown key', 'exchangez: []\n'], ['queue without name', 'queues:\n  - {durable: true}\n'],
    ['negative ttl', 'queues:\n  - {name: q, messageTtl: -5}\n'], ['huge ttl', 'queues:\n  - {name: q, messageTtl: 1e400}\n'], ['exchange type', 'exchanges:\n  - {name: x, type: "fanout; rm -rf"}\n'], ['bad json', '{"exchanges": [}']] as const)
    cases.push({category: 'file', name: `topology file: ${name}`, args: ['topology', 'plan', '{dir}/topology.yaml'], files: {'topology.yaml': text}})
  cases.push({category: 'file', name: 'topology file missing', args: ['topology', 'plan', '{dir}/missing.yaml']})
  return cases
}
