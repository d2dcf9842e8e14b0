import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MysqlAdapter} from '../../src/adapters/mysql.js'
import {DEFAULTS} from '../../src/config/defaults.js'
import type {CheckName} from '../../src/core/reconcile/checks.js'
import {keyPage} from '../../src/core/reconcile/merge.js'
import type {ReconcileOptions} from '../../src/core/reconcile/report.js'
import {reconcile} from '../../src/core/reconcile/run.js'
import {parseTimeSpec} from '../../src/core/reconcile/window.js'
import {initSchema} from '../../src/core/schema.js'
import {cliEnv, createTestDatabase, createTestRedis, runCli, type TestDatabase, type TestRedis} from '../helpers/env.js'

/**
 * The merge plan against the lookup plan on data made to trip a merge: keys before the first and after the last
 * outbox id, NULL message ids, keys equal only under the collation, young rows, rows outside the window, and pages
 * of 4 keys so that ranges end on every kind of row. Both plans must report the very same findings.
 */
let db: TestDatabase
let redis: TestRedis
let sql: MysqlAdapter

const OLD = 'NOW(3) - INTERVAL 1 HOUR'
const YOUNG = 'NOW(3) - INTERVAL 30 SECOND'
const ANCIENT = 'NOW(3) - INTERVAL 3 DAY'
const CHECKS: CheckName[] = ['order_without_message', 'sent_not_consumed', 'orphan_consumed']

async function order(id: string, messageId: string | null, at = OLD) {
  await sql.execute(`INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES (?, ?, 'paid', ${at}, ${at})`, [id, messageId])
}
async function outbox(id: string, status: string, at = OLD) {
  await sql.execute(`INSERT INTO outbox (id, aggregate_id, payload, status, created_at, sent_at) VALUES (?, NULL, '{}', ?, ${at}, ${status === 'sent' ? at : 'NULL'})`, [id, status])
}
async function inbox(messageId: string, at = OLD, consumer = 'billing') {
  await sql.execute(`INSERT INTO inbox (message_id, consumer, status, received_at) VALUES (?, ?, 'processed', ${at})`, [messageId, consumer])
}

async function run(plan: 'merge' | 'lookup', since = '24h', extra: Partial<ReconcileOptions> = {}) {
  return reconcile({sql}, DEFAULTS, {checks: CHECKS, since: parseTimeSpec(since, '--since'), graceMs: 300_000, sample: 100, batchSize: 3, mergePage: 4, plan, ...extra})
}

const found = (report: Awaited<ReturnType<typeof run>>) =>
  Object.fromEntries(Object.entries(report.checks).map(([check, r]) => [check, r!.samples.map((s) => `${s.id}${s.detail ? ` ${s.detail}` : ''}`).sort()]))

/**
 * Runs work on one connection whose GROUP_CONCAT results are cut at `bytes` (group_concat_max_len), through a port
 * that records every statement it is given; the limit is put back afterwards.
 */
async function withConcatLimit<T>(on: MysqlAdapter, bytes: number, work: (one: MysqlAdapter, texts: string[]) => Promise<T>): Promise<T> {
  const texts: string[] = []
  return on.transaction(async (tx) => {
    await tx.execute(`SET SESSION group_concat_max_len = ${bytes}`)
    try {
      const one = {...tx, transaction: on.transaction.bind(on), version: on.version.bind(on)} as unknown as MysqlAdapter
      one.query = (text, params) => {
        texts.push(text)
        return tx.query(text, params)
      }
      return await work(one, texts)
    } finally {
      await tx.execute('SET SESSION group_concat_max_len = 2097152')
    }
  })
}

beforeAll(async () => {
  db = await createTestDatabase('msgops_rmerge')
  redis = await createTestRedis('msgops_rmerge')
  sql = await MysqlAdapter.connect(db.url, 5000)
  await initSchema(sql, DEFAULTS)
  // Clean chains, enough for several pages.
  for (let i = 1; i <= 13; i++) {
    const n = String(i).padStart(3, '0')
    await order(`o${n}`, `m${n}`)
    await outbox(`m${n}`, 'sent')
    await inbox(`m${n}`)
  }
  await inbox('m005', OLD, 'shipping') // a second consumer of the same message
  await order('o040', 'm040') // order_without_message
  await order('o041', null) // order_without_message, through the NULL path
  await order('o042', 'M-CASE') // equal to m-case under utf8mb4_general_ci: clean
  await outbox('m-case', 'sent')
  await inbox('M-Case')
  await order('o050', 'm050') // sent_not_consumed
  await outbox('m050', 'sent')
  await order('o051', 'm051') // pending, no inbox: not sent_not_consumed
  await outbox('m051', 'pending')
  await inbox('a000') // orphan before every outbox id
  await inbox('zzz9') // orphan after every outbox id
  await inbox('zzz9', OLD, 'shipping')
  await outbox('m060', 'sent') // consumed, but no order holds m060: orphan
  await inbox('m060')
  await order('o070', 'm070', YOUNG) // young: never flagged
  await inbox('m071', YOUNG)
  await order('o080', 'm080', ANCIENT) // outside a 24h window
  await inbox('m081', ANCIENT)
})

afterAll(async () => {
  await sql?.close()
  await db?.drop()
  await redis?.cleanup()
})

describe('reconcile merge plan', () => {
  it('finds exactly what the lookup plan finds, across page boundaries, NULL keys and collation-equal keys', async () => {
    const lookup = await run('lookup', '7d')
    const merge = await run('merge', '7d')
    expect(lookup.merged).toEqual([])
    expect(merge.merged).toEqual(CHECKS)
    expect(found(merge)).toEqual(found(lookup))
    expect(found(merge)).toEqual({
      order_without_message: ['o040', 'o041', 'o080'],
      sent_not_consumed: ['m050'],
      orphan_consumed: ['a000 no outbox row (consumer billing)', 'm060 no order (consumer billing)', 'm081 no outbox row (consumer billing)', 'zzz9 no outbox row (consumer billing)', 'zzz9 no outbox row (consumer shipping)'],
    })
    expect(merge.checks.orphan_consumed?.count).toBe(5)
  })

  it('applies the window and grace to the candidates: the same findings as lookups with a narrower window', async () => {
    const lookup = await run('lookup', '24h')
    const merge = await run('merge', '24h')
    expect(found(merge)).toEqual(found(lookup))
    expect(found(merge).order_without_message).toEqual(['o040', 'o041'])
    expect(merge.checks.orphan_consumed?.count).toBe(4)
  })

  it('auto merges only when the window covers every table it reads', async () => {
    expect((await run('auto' as 'merge', '24h')).merged).toEqual([])
    expect((await run('auto' as 'merge', '30d')).merged).toEqual(CHECKS)
  })

  it('pages of one key and of many give the same findings', async () => {
    const reference = found(await run('lookup', '7d'))
    for (const mergePage of [1, 2, 1000]) expect(found(await run('merge', '7d', {mergePage}))).toEqual(reference)
  })

  it('reads the outbox ids from an index of their own only when there is one, with the same findings', async () => {
    const reference = found(await run('lookup', '7d'))
    const merged = () =>
      withConcatLimit(sql, 2_097_152, async (one, texts) => ({
        report: await reconcile({sql: one}, DEFAULTS, {checks: CHECKS, since: parseTimeSpec('7d', '--since'), graceMs: 300_000, sample: 100, batchSize: 3, mergePage: 4, plan: 'merge'}),
        texts,
      }))
    const primary = await merged()
    expect(found(primary.report)).toEqual(reference)
    expect(primary.texts.some((t) => t.includes('FORCE INDEX'))).toBe(false)
    await sql.execute('CREATE INDEX idx_outbox_id ON outbox (id)')
    try {
      const narrow = await merged()
      expect(found(narrow.report)).toEqual(reference)
      expect(narrow.texts.some((t) => t.includes('FORCE INDEX (`idx_outbox_id`)'))).toBe(true)
    } finally {
      await sql.execute('DROP INDEX idx_outbox_id ON outbox')
    }
  })

  it('reads a page again row by row when group_concat_max_len cuts it inside its last key (the count still right)', async () => {
    // Three 8-character ids: 26 bytes packed, cut at 24 inside the third, which would come back as "cut-cc".
    for (const id of ['cut-aaaa', 'cut-bbbb', 'cut-cccc']) await outbox(id, 'sent')
    try {
      const page = await withConcatLimit(sql, 24, (one) => keyPage(one, {table: 'outbox', column: 'id'}, 'cut-', 'cut-zzzz', 10))
      expect(Array.from({length: page.keys.count}, (_x, n) => page.keys.key(n))).toEqual(['cut-aaaa', 'cut-bbbb', 'cut-cccc'])
    } finally {
      await sql.execute("DELETE FROM outbox WHERE id LIKE 'cut-%'")
    }
  })

  it('reads a packed row again in pages when group_concat_max_len cuts it, or a key holds the separator', async () => {
    await order('o090', 'm\u001E090')
    await outbox('m\u001E090', 'sent')
    await inbox('m\u001E090')
    try {
      const reference = found(await run('lookup', '7d'))
      // One connection whose packed rows are cut at 64 bytes: the outbox pages of 1000 keys and the open-ended ranges.
      const {merge, texts} = await withConcatLimit(sql, 64, async (one, texts) => ({
        merge: await reconcile({sql: one}, DEFAULTS, {checks: CHECKS, since: parseTimeSpec('7d', '--since'), graceMs: 300_000, sample: 100, batchSize: 3, mergePage: 1000, plan: 'merge'}),
        texts,
      }))
      expect(found(merge)).toEqual(reference)
      // Both ways of reading a range again ran: the outbox page row by row, the partners' range in pages.
      expect(texts.some((t) => /^SELECT `id` AS k FROM `outbox`/.test(t))).toBe(true)
      expect(texts.some((t) => /FROM \(SELECT `message_id` AS k FROM `inbox`/.test(t))).toBe(true)
    } finally {
      await sql.execute("DELETE FROM orders WHERE id = 'o090'")
      await sql.execute("DELETE FROM outbox WHERE id = 'm\u001E090'")
      await sql.execute("DELETE FROM inbox WHERE message_id = 'm\u001E090'")
    }
  })

  it('the CLI reports which checks were merged (--plan)', async () => {
    const env = cliEnv({db, redis})
    const result = await runCli(['reconcile', '--json', '--since', '30d', ...CHECKS.flatMap((c) => ['--check', c])], {env})
    expect(result.code, result.stderr).toBe(1)
    const json = JSON.parse(result.stdout)
    expect(json.merged).toEqual(CHECKS)
    expect(json.checks.order_without_message.count).toBe(3)
    const lookup = await runCli(['reconcile', '--json', '--since', '30d', '--plan', 'lookup', ...CHECKS.flatMap((c) => ['--check', c])], {env})
    expect(JSON.parse(lookup.stdout).merged).toEqual([])
    expect(JSON.parse(lookup.stdout).checks).toEqual(json.checks)
  })
})

/** A database of its own with the reference schema, changed by `alter`, for one test; dropped afterwards. */
async function withOwnSchema(prefix: string, alter: string[], work: (own: MysqlAdapter) => Promise<void>): Promise<void> {
  const other = await createTestDatabase(prefix)
  const own = await MysqlAdapter.connect(other.url, 5000)
  try {
    await initSchema(own, DEFAULTS)
    for (const statement of alter) await own.execute(statement)
    await work(own)
  } finally {
    await own.close()
    await other.drop()
  }
}

describe('reconcile merge plan: integer keys', () => {
  it('merges BIGINT and INT keys (numeric order, not text order) with the same findings as lookups', async () => {
    const alter = ['ALTER TABLE outbox MODIFY id BIGINT NOT NULL', 'ALTER TABLE orders MODIFY message_id INT NULL', 'ALTER TABLE inbox MODIFY message_id BIGINT NOT NULL']
    await withOwnSchema('msgops_rmerge3', alter, async (sql3) => {
      // 9 < 10 < 100 numerically, but "10" < "100" < "9" as text: a merge cut in text order would lose keys.
      // 500 is where the key space is cut in halves (the middle of 1 and 1000): it must belong to one of them.
      for (const n of [1, 2, 9, 10, 11, 99, 100, 101, 500, 1000]) {
        await sql3.execute(`INSERT INTO orders (id, message_id, status, created_at, updated_at) VALUES (?, ?, 'paid', ${OLD}, ${OLD})`, [`o${n}`, n])
        if (n !== 10) await sql3.execute(`INSERT INTO outbox (id, payload, status, created_at, sent_at) VALUES (?, '{}', 'sent', ${OLD}, ${OLD})`, [n])
        if (n !== 99 && n !== 500) await sql3.execute(`INSERT INTO inbox (message_id, consumer, status, received_at) VALUES (?, 'billing', 'processed', ${OLD})`, [n])
      }
      await sql3.execute(`INSERT INTO inbox (message_id, consumer, status, received_at) VALUES (5000, 'billing', 'processed', ${OLD})`)
      const run3 = (plan: 'merge' | 'lookup') =>
        reconcile({sql: sql3}, DEFAULTS, {checks: CHECKS, since: parseTimeSpec('7d', '--since'), graceMs: 300_000, sample: 10, mergePage: 2, plan})
      const merge = await run3('merge')
      expect(merge.merged).toEqual(CHECKS)
      expect(found(merge)).toEqual(found(await run3('lookup')))
      expect(found(merge)).toEqual({
        order_without_message: ['o10'],
        sent_not_consumed: ['500', '99'],
        orphan_consumed: ['10 no outbox row (consumer billing)', '5000 no outbox row (consumer billing)'],
      })
    })
  })
})

describe('reconcile merge plan: key columns that cannot be merged', () => {
  it('falls back to lookups when the key columns have two collations', async () => {
    await withOwnSchema('msgops_rmerge2', ['ALTER TABLE inbox MODIFY message_id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL'], async (sql2) => {
      await sql2.execute(`INSERT INTO inbox (message_id, consumer, status, received_at) VALUES ('x1', 'billing', 'processed', ${OLD})`)
      const report = await reconcile({sql: sql2}, DEFAULTS, {checks: CHECKS, since: parseTimeSpec('7d', '--since'), graceMs: 300_000, sample: 10, plan: 'merge'})
      expect(report.merged).toEqual([])
      expect(report.checks.orphan_consumed?.count).toBe(1)
    })
  })
})

describe('reconcile cache scan: packed pages', () => {
  it('finds the same drift read packed or row by row: ids holding a separator, NULL statuses, ids beyond ASCII and the BMP', async () => {
    const {RedisAdapter} = await import('../../src/adapters/redis.js')
    const {RedisCache} = await import('../../src/adapters/cache.js')
    const {REDIS_URL} = await import('../helpers/env.js')
    const cacheRedis = await RedisAdapter.connect(REDIS_URL, 5000)
    const pattern = `${redis.prefix}packed:{id}`
    const config = {...DEFAULTS, cache: {...DEFAULTS.cache, keyPattern: pattern}}
    await withOwnSchema('msgops_rpack', ['ALTER TABLE orders MODIFY status VARCHAR(32) NULL'], async (own) => {
      // [id, status, what the cache holds (undefined: no key)]
      const orders: [string, string | null, string | undefined][] = [
        ['o01', 'paid', 'paid'],
        ['o02', 'paid', 'created'],
        ['o03', 'paid', undefined],
        ['o04\u001Fx', 'paid', 'paid'],
        ['o05\u001Ex', 'paid', 'shipped'],
        ['o06', null, 'paid'],
        ['o07', null, undefined],
        ['o08', 'payé', 'payé'],
        ['o09é', 'paid', 'paid'],
        ['o10😀', 'paid', 'created'],
        ['o11', 'paid', 'paid'],
        ['o12', 'x\u001Fy', 'x\u001Fy'],
        ['o13', 'paid', 'paid'],
      ]
      for (const [id, status, cached] of orders) {
        await own.execute(`INSERT INTO orders (id, status, created_at, updated_at) VALUES (?, ?, ${OLD}, ${OLD})`, [id, status])
        if (cached !== undefined) await redis.client.set(pattern.replace('{id}', id), cached)
      }
      const cache = new RedisCache(cacheRedis, 'string', 'status')
      const drift = async (since: string) => {
        const report = await reconcile({sql: own, cache}, config, {checks: ['cache_drift'], since: parseTimeSpec(since, '--since'), graceMs: 300_000, sample: 100, batchSize: 3})
        return report.checks.cache_drift!.samples.map((s) => `${s.id} ${s.detail}`).sort()
      }
      const want = ['o02 cache=created db=paid', 'o03 missing', 'o05\u001Ex cache=shipped db=paid', 'o06 cache=paid db=NULL', 'o10😀 cache=created db=paid'].sort()
      // A window covering the table: the scan by key, read packed (pages with a separator row by row).
      expect(await drift('7d')).toEqual(want)
      // Pages cut by group_concat_max_len: the first page (o01, o02, o03, 26 bytes) is cut at 24 inside o03's status,
      // which would read as status 'pa' (a false drift) if the length were not checked; such pages are read row by row.
      const {cut, texts} = await withConcatLimit(own, 24, async (one, texts) => ({
        cut: await reconcile({sql: one, cache}, config, {checks: ['cache_drift'], since: parseTimeSpec('7d', '--since'), graceMs: 300_000, sample: 100, batchSize: 3}),
        texts,
      }))
      expect(cut.checks.cache_drift!.samples.map((s) => `${s.id} ${s.detail}`).sort()).toEqual(want)
      expect(texts.some((t) => /^SELECT o\.`id` AS k, o\.`status` AS v FROM/.test(t))).toBe(true)
      // A window starting after the oldest order: the scan in time order, row by row; no order is older than 2 hours.
      await own.execute(`INSERT INTO orders (id, status, created_at, updated_at) VALUES ('o00', 'paid', NOW(3) - INTERVAL 3 DAY, NOW(3) - INTERVAL 3 DAY)`)
      expect(await drift('2h')).toEqual(want)
    })
    await cacheRedis.close()
  })
})
