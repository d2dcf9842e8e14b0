import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {afterAll, describe, expect, it} from 'vitest'

import {DEFAULTS} from '../../src/config/defaults.js'
import {letterOf} from '../../src/core/dlq/restore.js'
import {JsonLinesArchive} from '../../src/core/prune/archive.js'
import {BUSY_STATEMENTS_PER_S, decidePartitions, dedupeWindowDecision, MAX_SLEEP_COEF, MIN_CHUNK_SIZE, nextChunkSize, nextStartMs, othersPerSecond, parseSleepCoef, POLITE_HOLD_MS, politeNext, throttleReason} from '../../src/core/prune/decide.js'
import {addDays, boundLiteral, dayPartitions} from '../../src/core/prune/partitions.js'
import type {LoadProbe} from '../../src/core/prune/load.js'
import {pruneRows} from '../../src/core/prune/run.js'
import {keysetAfter, keysIn, type PruneTarget} from '../../src/core/prune/target.js'
import {referenceDdl} from '../../src/core/schema.js'
import type {Row, SqlExecutor, SqlPort} from '../../src/core/ports.js'
import type {Clock} from '../../src/core/time.js'

const dir = mkdtempSync(join(tmpdir(), 'msgops-prune-unit-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('nextChunkSize (decision table rows)', () => {
  const base = {size: 1000, targetMs: 500, max: 10_000}
  it('no measurable time: doubles', () => expect(nextChunkSize({...base, rows: 1000, elapsedMs: 0})).toBe(2000))
  it('no row: keeps the size', () => expect(nextChunkSize({...base, rows: 0, elapsedMs: 30})).toBe(1000))
  it('fewer rows than asked, on time: keeps the size', () => expect(nextChunkSize({...base, rows: 40, elapsedMs: 20})).toBe(1000))
  it('fewer rows than asked, too slow: shrinks by rate', () => expect(nextChunkSize({...base, rows: 400, elapsedMs: 1000})).toBe(500))
  it('otherwise rows / elapsed × target', () => expect(nextChunkSize({...base, rows: 1000, elapsedMs: 400})).toBe(1250))
  it('at most ×2 per chunk', () => expect(nextChunkSize({...base, rows: 1000, elapsedMs: 10})).toBe(2000))
  it('at least ÷2 per chunk (one slow chunk does not crash it)', () => expect(nextChunkSize({...base, rows: 1000, elapsedMs: 60_000})).toBe(500))
  it('never above --max-chunk-size', () => expect(nextChunkSize({...base, size: 8000, rows: 8000, elapsedMs: 10})).toBe(10_000))
  it(`never below ${MIN_CHUNK_SIZE}`, () => expect(nextChunkSize({...base, size: 12, rows: 12, elapsedMs: 60_000})).toBe(MIN_CHUNK_SIZE))
  it(`a --max-chunk-size below ${MIN_CHUNK_SIZE} wins over it`, () => expect(nextChunkSize({...base, size: 4, max: 4, rows: 4, elapsedMs: 60_000})).toBe(4))
})

describe('throttleReason (decision table rows)', () => {
  const limits = {maxLoad: 25, maxLagS: 1}
  it('Threads_running above --max-load (own thread not counted)', () => {
    expect(throttleReason({threadsRunning: 27, replicas: []}, limits)).toBe('Threads_running 26 > 25')
    expect(throttleReason({threadsRunning: 26, replicas: []}, limits)).toBeNull()
  })
  it('load wins over lag', () => expect(throttleReason({threadsRunning: 40, replicas: [{name: 'r1:3306', lagS: 9}]}, limits)).toMatch(/^Threads_running/))
  it('a replica whose replication is not running', () => expect(throttleReason({threadsRunning: 1, replicas: [{name: 'r1:3306', lagS: null}]}, limits)).toBe('replica r1:3306: replication not running'))
  it('a replica lagging more than --max-lag', () => expect(throttleReason({threadsRunning: 1, replicas: [{name: 'r1:3306', lagS: 0}, {name: 'r2:3306', lagS: 3}]}, limits)).toBe('replica r2:3306 lags 3s > 1s'))
  it('replicas within --max-lag, or none: go', () => {
    expect(throttleReason({threadsRunning: 1, replicas: [{name: 'r1:3306', lagS: 1}]}, limits)).toBeNull()
    expect(throttleReason({threadsRunning: 1, replicas: []}, limits)).toBeNull()
  })
})

describe('nextStartMs (decision table rows)', () => {
  const at = {now: 1000, started: 0, deleted: 500, chunkMs: 40}
  it('--rate spreads the rows over the run', () => expect(nextStartMs({...at, rate: 100})).toBe(5000))
  it('--rate never waits when behind', () => expect(nextStartMs({...at, now: 9000, rate: 100})).toBe(9000))
  it('--sleep waits a fixed time between chunks, whatever the chunk took', () => expect(nextStartMs({...at, sleepMs: 250})).toBe(1250))
  it('--sleep-coef waits that many times the last chunk', () => {
    expect(nextStartMs({...at, sleepCoef: 1})).toBe(1040)
    expect(nextStartMs({...at, sleepCoef: 0.5, chunkMs: 300})).toBe(1150)
  })
  it('--sleep-coef never goes back in time (a clock that stepped back)', () => expect(nextStartMs({...at, sleepCoef: 1, chunkMs: -20})).toBe(1000))
  it('none of them: at once', () => expect(nextStartMs(at)).toBe(1000))
})

describe('parseSleepCoef', () => {
  it('a number above 0: taken', () => {
    expect(parseSleepCoef('1')).toEqual({coef: 1})
    expect(parseSleepCoef('0.5')).toEqual({coef: 0.5})
    expect(parseSleepCoef('.25')).toEqual({coef: 0.25})
  })
  it('zero: refused (leave the flag out)', () => expect(parseSleepCoef('0')).toEqual({error: expect.stringMatching(/more than 0/)}))
  it('not a number, a negative or a unit: refused', () => {
    for (const bad of ['x', '-1', '1s', '', '1e3']) expect(parseSleepCoef(bad)).toEqual({error: expect.stringMatching(/is not a number/)})
  })
  it(`above ${MAX_SLEEP_COEF}: refused`, () => expect(parseSleepCoef('101')).toEqual({error: expect.stringMatching(/above 100/)}))
})

describe('decidePartitions (decision table rows)', () => {
  const p = (name: string, o: Partial<{maxValue: boolean; olderThanCut: boolean; mustStay: number}> = {}) => ({name, maxValue: false, olderThanCut: true, mustStay: 0, ...o})
  it('MAXVALUE: kept as the catch-all', () => expect(decidePartitions([p('p1'), p('pmax', {maxValue: true, olderThanCut: false})])[1]).toEqual({name: 'pmax', action: 'keep', why: 'catch-all'}))
  it('newer than the cut: kept', () => expect(decidePartitions([p('p1'), p('p2', {olderThanCut: false})])[1]).toMatchObject({action: 'keep', why: 'too young'}))
  it('older but holding a row that must stay: kept with the count', () => expect(decidePartitions([p('p1', {mustStay: 3}), p('p2', {olderThanCut: false})])[0]).toEqual({name: 'p1', action: 'keep', why: 'rows must stay', mustStay: 3}))
  it('older and clean: dropped', () => expect(decidePartitions([p('p1'), p('p2', {olderThanCut: false})])[0]).toEqual({name: 'p1', action: 'drop'}))
  it('every one droppable: the last is kept (a table keeps one partition)', () => expect(decidePartitions([p('p1'), p('p2')]).map((d) => d.action)).toEqual(['drop', 'keep']))
})

describe('dedupeWindowDecision (decision table rows)', () => {
  it('at least the window: allowed', () => expect(dedupeWindowDecision(7 * 86_400_000, 7 * 86_400_000, false)).toBe('allowed'))
  it('below, not forced: refused', () => expect(dedupeWindowDecision(86_400_000, 7 * 86_400_000, false)).toBe('refused'))
  it('below, forced: allowed with a warning', () => expect(dedupeWindowDecision(86_400_000, 7 * 86_400_000, true)).toBe('forced'))
})

describe('keyset SQL', () => {
  it('one column: k > ? and k IN (?)', () => {
    expect(keysetAfter(['`id`'], ['m-9'])).toEqual({sql: '`id` > ?', params: ['m-9']})
    expect(keysIn(['`id`'], [['a'], ['b']])).toEqual({sql: '`id` IN (?)', params: [['a', 'b']]})
  })
  it('a composite key: the row after (a, b) on the index range, and an IN that keeps the first column indexed', () => {
    expect(keysetAfter(['`a`', '`b`'], [1, 2])).toEqual({sql: '((`a` > ?) OR (`a` = ? AND `b` > ?))', params: [1, 1, 2]})
    expect(keysIn(['`a`', '`b`'], [[1, 2], [1, 3]])).toEqual({sql: '`a` IN (?) AND (`a`, `b`) IN ((?, ?), (?, ?))', params: [[1], 1, 2, 1, 3]})
  })
})

describe('day partitions', () => {
  it('calendar arithmetic across a month and a year', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01')
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28')
  })
  it('bounds in each scheme, dates only', () => {
    expect(boundLiteral('columns', '2026-01-02')).toBe("('2026-01-02')")
    expect(boundLiteral('to_days', '2026-01-02')).toBe("(TO_DAYS('2026-01-02'))")
    expect(() => boundLiteral('columns', "2026'); DROP")).toThrow()
  })
  it('one partition per day, named after the day it holds', () => {
    expect(dayPartitions('columns', '2026-01-30', '2026-02-01')).toEqual([
      "PARTITION `p20260130` VALUES LESS THAN ('2026-01-31')",
      "PARTITION `p20260131` VALUES LESS THAN ('2026-02-01')",
      "PARTITION `p20260201` VALUES LESS THAN ('2026-02-02')",
    ])
  })
  it('schema init --partitioned: the outbox keyed on (id, created_at) and partitioned by day up to pmax; the inbox only when asked', () => {
    const [, outbox, inbox] = referenceDdl(DEFAULTS, {today: '2026-01-10', aheadDays: 2, inbox: false})
    expect(outbox).toContain('PRIMARY KEY (`id`, `created_at`)')
    expect(outbox).toContain('PARTITION BY RANGE COLUMNS(`created_at`)')
    expect(outbox).toContain("PARTITION `p20260109` VALUES LESS THAN ('2026-01-10')")
    expect(outbox).toContain("PARTITION `p20260112` VALUES LESS THAN ('2026-01-13')")
    expect(outbox).toContain('PARTITION `pmax` VALUES LESS THAN (MAXVALUE)')
    expect(inbox).not.toContain('PARTITION BY')
    const [, , partitionedInbox] = referenceDdl(DEFAULTS, {today: '2026-01-10', aheadDays: 2, inbox: true})
    expect(partitionedInbox).toContain('UNIQUE KEY `uq_inbox_message_consumer` (`message_id`, `consumer`, `received_at`)')
    expect(referenceDdl(DEFAULTS)[1]).not.toContain('PARTITION BY')
  })
})

describe('the archive', () => {
  it('gzip: one member per chunk, all readable; a chunk taken back out leaves the earlier ones whole', async () => {
    const path = join(dir, 'a.jsonl.gz')
    const archive = await JsonLinesArchive.open(path)
    await archive.append(['{"n":1}\n', '{"n":2}\n'])
    const mark = await archive.append(['{"n":3}\n'])
    await archive.truncate(mark)
    await archive.append(['{"n":4}\n'])
    await archive.close()
    expect(gunzipSync(readFileSync(path)).toString()).toBe('{"n":1}\n{"n":2}\n{"n":4}\n')
  })
  it('an unwritable path is refused at open, as a usage error', async () => {
    await expect(JsonLinesArchive.open(join(dir, 'missing-dir', 'a.jsonl'))).rejects.toThrow(/cannot write the archive/)
    await expect(JsonLinesArchive.open(dir)).rejects.toThrow(/cannot write the archive/)
  })
})

describe('pruneRows with a fake lag source (the replica-lag throttle without a replica)', () => {
  it('pauses while the replica lags, says why once, then deletes', async () => {
    const lags = [5, 3, 0, 0, 0]
    const readings: string[] = []
    const load: LoadProbe = {read: async () => ({threadsRunning: 1, replicas: [{name: 'replica:3307', lagS: lags.shift() ?? 0}]})}
    let rows = ['a', 'b', 'c']
    const sql = {
      async query(text: string) {
        return text.startsWith('SELECT') ? (rows.map((k) => ({k0: k})) as Row[]) : []
      },
      async execute(_text: string, params: unknown[]) {
        const keys = params[0] as string[]
        rows = rows.filter((r) => !keys.includes(r))
        return {affectedRows: keys.length}
      },
      transaction: async () => { throw new Error('not used') },
      version: async () => '10.11',
    } as unknown as SqlPort & SqlExecutor
    let now = 0
    const clock: Clock = {now: () => now, sleep: async (ms) => void (now += Math.max(0, ms))}
    const target = {kind: 'outbox', name: 'outbox', t: '`outbox`', key: ['`id`'], keyNames: ['id'], basis: 'sent_at', time: '`sent_at`', eligible: {sql: '1 = 1', params: []}, mustStay: {sql: '1 = 0', params: []}, archiveColumns: '*', describe: 'rows'} as PruneTarget
    const report = await pruneRows({sql, load, clock, onPause: (r) => readings.push(String(r))}, target, {dryRun: false, chunkSize: 10, maxChunkSize: 100, chunkTimeMs: 500, maxLoad: 25, maxLagS: 1}, {rows: 3, oldest: null, newest: null})
    expect(readings).toEqual(['replica replica:3307 lags 5s > 1s', 'null'])
    expect(report.pauses.count).toBe(1)
    expect(report.pauses.ms).toBe(2000)
    expect(report.deleted).toBe(3)
    expect(rows).toEqual([])
  })
})

describe('pruneRows with --sleep-coef', () => {
  it('pauses after each chunk as long as the chunk took, times the coefficient, and not after the last', async () => {
    let now = 0
    const sleeps: number[] = []
    const clock: Clock = {now: () => now, sleep: async (ms) => {
      sleeps.push(ms)
      now += Math.max(0, ms)
    }}
    let rows = Array.from({length: 25}, (_, i) => `k${String(i).padStart(2, '0')}`)
    const sql = {
      async query(_text: string, params: unknown[]) {
        const limit = Number(params.at(-1))
        return rows.slice(0, limit).map((k) => ({k0: k})) as Row[]
      },
      async execute(_text: string, params: unknown[]) {
        const keys = params[0] as string[]
        rows = rows.filter((r) => !keys.includes(r))
        // Each chunk's DELETE takes 30 ms of the fake clock.
        now += 30
        return {affectedRows: keys.length}
      },
      transaction: async () => { throw new Error('not used') },
      version: async () => '10.11',
    } as unknown as SqlPort & SqlExecutor
    const load: LoadProbe = {read: async () => ({threadsRunning: 1, replicas: []})}
    const target = {kind: 'outbox', name: 'outbox', t: '`outbox`', key: ['`id`'], keyNames: ['id'], basis: 'sent_at', time: '`sent_at`', eligible: {sql: '1 = 1', params: []}, mustStay: {sql: '1 = 0', params: []}, archiveColumns: '*', describe: 'rows'} as PruneTarget
    // Chunks of 10 (max 10): 10, 10, then 5 (the last, short: no pause after it).
    const report = await pruneRows({sql, load, clock}, target, {dryRun: false, chunkSize: 10, maxChunkSize: 10, chunkTimeMs: 30, sleepCoef: 1.5, maxLoad: 25, maxLagS: 1}, {rows: 25, oldest: null, newest: null})
    expect({deleted: report.deleted, chunks: report.chunks, sleeps}).toEqual({deleted: 25, chunks: 3, sleeps: [45, 45]})
  })
})

describe('politeNext (decision table rows)', () => {
  const now = 100_000
  it('full: full speed whatever the server does', () => expect(politeNext({pace: 'full', othersPerS: 5000, lastBusyAt: now, now})).toBe(false))
  it('polite: polite on an idle server too', () => expect(politeNext({pace: 'polite', othersPerS: 0, now})).toBe(true))
  it(`auto, others at ${BUSY_STATEMENTS_PER_S}/s or more: polite`, () => {
    expect(politeNext({pace: 'auto', othersPerS: BUSY_STATEMENTS_PER_S, now})).toBe(true)
    expect(politeNext({pace: 'auto', othersPerS: BUSY_STATEMENTS_PER_S - 0.5, now})).toBe(false)
  })
  it('auto, quiet now but busy within the hold: polite', () => expect(politeNext({pace: 'auto', othersPerS: 0, lastBusyAt: now - POLITE_HOLD_MS + 1, now})).toBe(true))
  it('auto, quiet and the last busy interval older than the hold: full', () => expect(politeNext({pace: 'auto', othersPerS: 0, lastBusyAt: now - POLITE_HOLD_MS, now})).toBe(false))
  it('auto, before a second reading (first chunk): polite', () => expect(politeNext({pace: 'auto', othersPerS: undefined, now})).toBe(true))
})

describe('othersPerSecond', () => {
  const reading = (statements: number, at: number) => ({threadsRunning: 1, replicas: [], statements, at})
  it("the counter's rise less the run's own statements, per second", () => expect(othersPerSecond(reading(1000, 0), reading(1102, 500), 2)).toBe(200))
  it('never below zero (own statements over-counted)', () => expect(othersPerSecond(reading(1000, 0), reading(1001, 500), 2)).toBe(0))
  it('unknown without a previous reading, a counter, or time between them', () => {
    expect(othersPerSecond(undefined, reading(1, 1), 0)).toBeUndefined()
    expect(othersPerSecond({threadsRunning: 1, replicas: []}, reading(1, 1), 0)).toBeUndefined()
    expect(othersPerSecond(reading(1, 5), reading(9, 5), 0)).toBeUndefined()
  })
})

describe('pruneRows with --pace auto', () => {
  it('runs polite (short chunks, each followed by a pause) while others work, and at full speed once the server has been quiet for the hold', async () => {
    let now = 0
    const sleeps: number[] = []
    const clock: Clock = {now: () => now, sleep: async (ms) => {
      sleeps.push(Math.round(ms))
      now += Math.max(0, ms)
    }}
    const total = 60_000
    let next = 0 // rows below it are deleted
    const sizes: number[] = []
    let counter = 0
    const sql = {
      async query(_text: string, params: unknown[]) {
        const limit = Number(params.at(-1))
        sizes.push(limit)
        counter++
        return Array.from({length: Math.max(0, Math.min(limit, total - next))}, (_, i) => ({k0: next + i})) as Row[]
      },
      async execute(_text: string, params: unknown[]) {
        const keys = params[0] as number[]
        next += keys.length
        counter++
        now += keys.length / 10 // 10 rows per ms of the fake clock
        return {affectedRows: keys.length}
      },
      transaction: async () => { throw new Error('not used') },
      version: async () => '10.11',
    } as unknown as SqlPort & SqlExecutor
    // Others run 1,000 statements/s for the first second, then nothing.
    const load: LoadProbe = {read: async () => ({threadsRunning: 1, replicas: [], statements: counter + Math.round(Math.min(now, 1000)), at: now})}
    const target = {kind: 'outbox', name: 'outbox', t: '`outbox`', key: ['`id`'], keyNames: ['id'], basis: 'sent_at', time: '`sent_at`', eligible: {sql: '1 = 1', params: []}, mustStay: {sql: '1 = 0', params: []}, archiveColumns: '*', describe: 'rows'} as PruneTarget
    const report = await pruneRows({sql, load, clock}, target, {dryRun: false, chunkSize: 10, maxChunkSize: 10_000, chunkTimeMs: 500, pace: 'auto', maxLoad: 25, maxLagS: 1}, {rows: total, oldest: null, newest: null})
    expect(report.deleted).toBe(total)
    expect(report.pace.mode).toBe('auto')
    expect(report.pace.politeChunks).toBeGreaterThan(100)
    expect(report.pace.fullChunks).toBeGreaterThan(0)
    const polite = sizes.slice(0, report.pace.politeChunks)
    // Polite chunks are sized to ~5 ms (50 rows here), each followed by a pause twice as long; full-speed ones grow to 500 ms.
    expect(Math.max(...polite.slice(10))).toBeLessThanOrEqual(200)
    expect(sleeps.slice(10, report.pace.politeChunks - 1).every((ms) => ms >= 4 && ms <= 30)).toBe(true)
    expect(Math.max(...sizes.slice(report.pace.politeChunks))).toBeGreaterThan(2000)
    // The first full-speed chunk starts only after the hold: others were last seen at about 1 s.
    const politeTime = polite.reduce((a, b) => a + b, 0) / 10 + sleeps.slice(0, report.pace.politeChunks).reduce((a, b) => a + Math.max(0, b), 0)
    expect(politeTime).toBeGreaterThan(1000 + POLITE_HOLD_MS - 100)
  })

  it('--pace full never pauses on a busy server, and --chunk-time given is kept by polite chunks', async () => {
    const run = async (pace: 'full' | 'polite', chunkTimeGiven: boolean) => {
      let now = 0
      const sleeps: number[] = []
      const clock: Clock = {now: () => now, sleep: async (ms) => {
        sleeps.push(Math.round(ms))
        now += Math.max(0, ms)
      }}
      let rows = Array.from({length: 2000}, (_, i) => `k${String(i).padStart(5, '0')}`)
      const sizes: number[] = []
      const sql = {
        async query(_text: string, params: unknown[]) {
          sizes.push(Number(params.at(-1)))
          return rows.slice(0, Number(params.at(-1))).map((k) => ({k0: k})) as Row[]
        },
        async execute(_text: string, params: unknown[]) {
          const keys = params[0] as string[]
          rows = rows.filter((r) => !keys.includes(r))
          now += keys.length / 10
          return {affectedRows: keys.length}
        },
        transaction: async () => { throw new Error('not used') },
        version: async () => '10.11',
      } as unknown as SqlPort & SqlExecutor
      const load: LoadProbe = {read: async () => ({threadsRunning: 1, replicas: [], statements: Math.round(now * 10), at: now})}
      const target = {kind: 'outbox', name: 'outbox', t: '`outbox`', key: ['`id`'], keyNames: ['id'], basis: 'sent_at', time: '`sent_at`', eligible: {sql: '1 = 1', params: []}, mustStay: {sql: '1 = 0', params: []}, archiveColumns: '*', describe: 'rows'} as PruneTarget
      const report = await pruneRows({sql, load, clock}, target, {dryRun: false, chunkSize: 100, maxChunkSize: 10_000, chunkTimeMs: 40, chunkTimeGiven, pace, maxLoad: 25, maxLagS: 1}, {rows: 2000, oldest: null, newest: null})
      return {report, sleeps, sizes}
    }
    const full = await run('full', false)
    expect(full.report.pace).toEqual({mode: 'full', politeChunks: 0, fullChunks: full.report.chunks})
    expect(full.sleeps.every((ms) => ms <= 0)).toBe(true)
    const given = await run('polite', true)
    expect(given.report.pace.politeChunks).toBe(given.report.chunks)
    expect(Math.max(...given.sizes)).toBeGreaterThan(200) // 40 ms chunks (400 rows), not 5 ms ones
  })
})

describe('dlq restore lines', () => {
  it('a purge line becomes the dead letter it was: body decoded, x-death times as dates again', () => {
    const letter = letterOf(JSON.stringify({messageId: 'm1', properties: {messageId: 'm1'}, headers: {'x-death': [{queue: 'q', reason: 'rejected', exchange: 'x', 'routing-keys': ['k'], count: 1, time: '2026-01-01T00:00:00.000Z'}]}, bodyEncoding: 'base64', body: Buffer.from([0, 1, 2]).toString('base64')}))
    expect(typeof letter).toBe('object')
    if (typeof letter === 'string') return
    expect([...letter.body]).toEqual([0, 1, 2])
    expect((letter.properties.headers!['x-death'] as {time: Date}[])[0].time).toBeInstanceOf(Date)
  })
  it('anything else is named invalid', () => {
    expect(letterOf('not json')).toBe('not JSON')
    expect(letterOf('{"x":1}')).toMatch(/not a dlq purge archive line/)
  })
})
