import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {z} from 'zod'

import {ERROR_SCHEMA, OUTPUT_SCHEMAS} from '../../src/render/json/index.js'
import {cliEnv, createTestDatabase, createTestRedis, createTestVhost, makeAll, runCli, type TestDatabase, type TestRedis, type TestVhost} from '../helpers/env.js'

/**
 * Commands whose --json output has no schema or no run below yet, each with the reason. Empty: every command in
 * oclif.manifest.json is covered. A command listed here ships without the contract cron users script against.
 */
// metrics serve is a server until it is stopped (test/integration/metrics-serve.test.ts); its one line of JSON is checked at compile time.
const EXEMPT: string[] = ['metrics:serve']

const MANIFEST_IDS = Object.keys(JSON.parse(readFileSync(fileURLToPath(new URL('../../oclif.manifest.json', import.meta.url)), 'utf8')).commands as object)
const TOPOLOGY_FILE = fileURLToPath(new URL('../../examples/topology.yaml', import.meta.url))
const DLQ = 'order_queue.dlq'

let db: TestDatabase
let vhost: TestVhost
let redis: TestRedis
let conn: mysql.Connection
let env: Record<string, string>
let dir: string
/** The command ids whose output was validated against their schema in this file. */
const validated = new Set<string>()

beforeAll(async () => {
  ;[db, vhost, redis] = await makeAll([createTestDatabase('msgops_json'), createTestVhost('msgops_json'), createTestRedis('msgops_json')] as const)
  conn = await mysql.createConnection(db.url)
  env = cliEnv({db, vhost, redis})
  dir = mkdtempSync(join(tmpdir(), 'msgops-json-'))
  // The demo's cache keys under this file's Redis prefix, so that its cleanup removes them (the CLIs run in dir).
  writeFileSync(join(dir, 'msgops.yaml'), `cache:\n  keyPattern: "${redis.prefix}order:{id}"\n`)
})

afterAll(async () => {
  await conn?.end()
  await Promise.all([db?.drop(), vhost?.drop(), redis?.cleanup()])
  if (dir) rmSync(dir, {recursive: true, force: true})
})

/** The schema's verdict on a value, with zod's account of what is wrong and the output itself when it fails. */
function expectValid(schema: z.ZodType, value: unknown, what: string): void {
  const parsed = schema.safeParse(value)
  expect(parsed.success, parsed.success ? '' : `${what} does not match its schema:\n${z.prettifyError(parsed.error)}\n${JSON.stringify(value, null, 2).slice(0, 3000)}`).toBe(true)
}

/** `msgops <id> ARGS --json`: the exit code expected, stdout parsed and validated against the command's schema. */
async function json(id: string, args: string[], exit: number | number[] = 0): Promise<any> {
  const result = await runCli([...id.split(':'), ...args, '--json'], {env, cwd: dir})
  expect([exit].flat(), `msgops ${id} exited ${result.code}: ${result.stderr}`).toContain(result.code)
  let value: unknown
  try {
    value = JSON.parse(result.stdout)
  } catch {
    throw new Error(`msgops ${id} printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr}`)
  }
  expect(OUTPUT_SCHEMAS[id], `no schema registered for ${id}`).toBeDefined()
  expectValid(OUTPUT_SCHEMAS[id], value, `msgops ${id} ${args.join(' ')}`)
  validated.add(id)
  return value
}

/** A failing run: exit 2 and the error document on stdout. */
async function failure(argv: string[]): Promise<any> {
  const result = await runCli([...argv, '--json'], {env, cwd: dir})
  expect(result.code, result.stderr).toBe(2)
  const value = JSON.parse(result.stdout)
  expectValid(ERROR_SCHEMA, value, `msgops ${argv.join(' ')} (failing)`)
  return value
}

describe('--json output against the schemas of src/render/json', () => {
  it('creates the tables and topology, then the demo fills them with faults', async () => {
    const init = await json('schema:init', [])
    expect(init.created).toContain('outbox')
    const applied = await json('topology:apply', [TOPOLOGY_FILE])
    expect(applied.created.length).toBeGreaterThan(0)
    // Stuck rows, dead letters with x-death from a real consumer's rejects, and a finding for every reconcile check.
    const demo = await json('demo', ['--orders', '40', '--fault-rate', '0.1', '--seed', '5', '--yes'])
    expect(demo.injected.message_stuck).toBeGreaterThan(0)
    expect(demo.injected.dead_lettered).toBeGreaterThan(0)
    // Two rows the drain will fail on: one unroutable, one to an exchange that does not exist.
    await conn.query(
      `INSERT INTO outbox (id, aggregate_id, event_type, exchange, routing_key, payload, headers, created_at) VALUES
       ('json-unroutable', 'a1', 'order.created', 'order_exchange', 'nowhere.at.all', '{"order": 1}', '{"x-tenant": "t1"}', NOW(3) - INTERVAL 1 HOUR),
       ('json-no-exchange', 'a2', 'order.created', 'json_missing_x', 'order.created', '{"order": 2}', NULL, NOW(3) - INTERVAL 1 HOUR)`,
    )
  })

  it('reading commands print their documents', async () => {
    const [status, list, shown, missing, inspect, reconcile, plan, yaml, definitions, config, doctor, audit] = await Promise.all([
      json('outbox:status', ['--fail-if-pending-older-than', '1m'], 1),
      json('outbox:list', ['--status', 'pending', '--limit', '3']),
      json('outbox:show', ['json-unroutable']),
      json('outbox:show', ['json-none'], 1),
      json('dlq:inspect', [DLQ, '--sample', '2'], 1),
      json('reconcile', ['--since', '7d', '--grace', '1m', '--sample', '2', '--fix', '--dry-run'], 1),
      json('topology:plan', [TOPOLOGY_FILE]),
      json('topology:export', []),
      json('topology:export', ['--format', 'definitions']),
      json('config:show', []),
      json('doctor', [], [0, 1]),
      json('audit', ['--limit', '2']),
    ])
    expect(status.alerts.length).toBeGreaterThan(0)
    expect(list.rows).toHaveLength(3)
    expect(list.next).not.toBeNull()
    expect(shown.payload).toEqual({order: 1})
    expect(missing).toEqual({found: false, id: 'json-none'})
    expect(inspect.samples).toHaveLength(2)
    expect(inspect.samples[0].deaths).toBeGreaterThan(0)
    expect(reconcile.total).toBeGreaterThan(0)
    expect(Object.keys(reconcile.fixes.checks).length).toBeGreaterThan(0)
    expect(plan.exitCode).toBe(0)
    expect(yaml.queues.map((q: {name: string}) => q.name)).toContain(DLQ)
    expect(definitions.queues.map((q: {vhost: string}) => q.vhost)).toContain(vhost.name)
    expect(config.values.length).toBeGreaterThan(0)
    expect(doctor.length).toBeGreaterThan(0)
    expect(audit.records).toHaveLength(2)
    // A run of two parts, joined: reconcile merge's document.
    const parts = await Promise.all([1, 2].map((k) => json('reconcile', ['--since', '7d', '--grace', '1m', '--part', `${k}/2`], 1)))
    parts.forEach((p, k) => writeFileSync(join(dir, `part-${k + 1}.json`), JSON.stringify(p)))
    const joined = await json('reconcile:merge', [join(dir, 'part-1.json'), join(dir, 'part-2.json')], 1)
    expect(joined.total).toBe(parts[0].total + parts[1].total)
    const record = await json('audit:show', [audit.records[0].id])
    expect(record.id).toBe(audit.records[0].id)
    expect(await json('audit:show', ['999999999'], 1)).toEqual({found: false, id: '999999999'})
    // One message traced, and many: the two shapes of trace's document.
    const one = await json('trace', ['json-unroutable', '--message'], [0, 1])
    expect(one.kind).toBe('message')
    const many = await json('trace', ['json-unroutable', 'json-no-exchange', '--message'], [0, 1])
    expect(many.total).toBe(2)
    const snapshot = await json('top', ['--once'], [0, 1])
    expect(snapshot.outbox.state).toBe('ok')
  })

  it('changing commands print their reports', async () => {
    const archive = join(dir, 'dlq.jsonl')
    const outbox = async () => {
      const drain = await json('outbox:drain', ['--max-attempts', '1', '--yes'], 1)
      // The two dead letters the drain made are failure groups: listed, counted for a discard, requeued by group.
      const failures = await json('outbox:failures', ['--status', 'dead-letter'], [0, 1])
      expect(failures.groups.length).toBeGreaterThan(0)
      const group = failures.groups[0].fingerprint
      const discard = await json('outbox:discard', ['--group', group, '--dry-run'])
      expect(discard.matching).toBe(failures.groups[0].deadLetter)
      await json('outbox:requeue', ['--group', group, '--dry-run'])
      const requeue = await json('outbox:requeue', ['--all', '--yes'])
      const edit = await json('outbox:edit', ['json-unroutable', '--set-payload', '{"order": 11}', '--yes'])
      expect(edit.after.payload).toEqual({order: 11})
      return {drain, requeue}
    }
    const dlq = async () => {
      const replay = await json('dlq:replay', [DLQ, '--limit', '1', '--yes'])
      const purge = await json('dlq:purge', [DLQ, '--archive', archive, '--yes'])
      return {replay, purge}
    }
    const [{drain, requeue}, {replay, purge}] = await Promise.all([outbox(), dlq()])
    expect(drain.published).toBeGreaterThan(0)
    expect(drain.failures.map((f: {id: string}) => f.id).sort()).toEqual(['json-no-exchange', 'json-unroutable'])
    expect(requeue.requeued).toBe(2)
    expect(replay.moved).toBe(1)
    expect(purge.archived).toBeGreaterThan(0)
    expect(purge.archive).toBe(archive)
    // Retention and the way back from an archive, as dry runs: their documents are the same.
    const restore = await json('dlq:restore', [archive, '--dry-run'])
    expect(restore.lines).toBe(purge.archived)
    const pruned = await json('outbox:prune', ['--older-than', '1m', '--dry-run'])
    expect(pruned.mode).toBe('rows')
    await json('inbox:prune', ['--older-than', '7d', '--dry-run'])
  })

  it('failing commands print the error document', async () => {
    const [usage, parse, refused, badTime, doctor] = await Promise.all([
      failure(['outbox', 'list', '--status', 'bogus']),
      failure(['outbox', 'drain', '--no-such-flag']),
      failure(['dlq', 'purge', DLQ]),
      failure(['reconcile', '--since', 'yesterday-ish']),
      failure(['doctor', '--mysql-url', 'mysql://root@127.0.0.1:1/none', '--connect-timeout', '1s']),
    ])
    for (const e of [usage, parse, refused, badTime]) expect(e.error.kind).toBe('usage')
    expect(refused.error.suggestion).toMatch(/--yes/)
    // doctor's rows come along in the error's result, in doctor's own shape.
    expect(doctor.error.kind).toBe('connection')
    expectValid(OUTPUT_SCHEMAS.doctor, doctor.result, 'the result of a failed msgops doctor')
  })

  it('every command in the manifest has a schema and a validated run (or is exempt)', () => {
    const covered = MANIFEST_IDS.filter((id) => !EXEMPT.includes(id))
    expect(covered.filter((id) => !(id in OUTPUT_SCHEMAS)), 'commands without a schema in src/render/json/index.ts').toEqual([])
    expect(covered.filter((id) => !validated.has(id)), 'commands without a --json run in this file').toEqual([])
    expect(EXEMPT.filter((id) => !MANIFEST_IDS.includes(id)), 'exempt ids that are not commands').toEqual([])
  })
})
