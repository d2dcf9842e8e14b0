import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {createWorld, type World} from '../reliability/helpers/setup.js'
import {makeDeadLetters, QueueRecorder, spawnCli, waitFor} from '../reliability/helpers/world.js'

const MESSAGES = 1500
let world: World
let recorder: QueueRecorder
const dir = mkdtempSync(join(tmpdir(), 'msgops-restore-'))

beforeAll(async () => {
  world = await createWorld('msgops_restore')
})

afterAll(async () => {
  await recorder?.stop()
  await world?.cleanup()
  rmSync(dir, {recursive: true, force: true})
})

describe('dlq restore', () => {
  it('after a purge, moves each archived message back to its original queue once, across kill -9s; a second run publishes nothing', async () => {
    const ids = await makeDeadLetters(world.channel, MESSAGES, 'r')
    const archive = join(dir, 'work-dlq.jsonl')
    const purge = await runCli(['dlq', 'purge', 'work.dlq', '--archive', archive, '--yes', '--idle', '1s'], {env: world.env, timeoutMs: 120_000})
    expect(purge.code, purge.stderr).toBe(0)
    expect((await world.channel.checkQueue('work.dlq')).messageCount).toBe(0)

    const dry = await runCli(['dlq', 'restore', archive, '--dry-run', '--json'], {env: world.env})
    expect(dry.code, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout)).toMatchObject({restored: MESSAGES, targets: [{exchange: 'work.x', routingKey: 'work', count: MESSAGES}]})
    expect(existsSync(`${archive}.restored`)).toBe(false)

    recorder = new QueueRecorder(await world.newChannel(), 'work.q')
    await recorder.start()
    const args = ['dlq', 'restore', archive, '--yes', '--json', '--batch-size', '50', '--rate', '1000']
    let inDoubt = 0
    for (const at of [150, 600, 1100]) {
      const run = spawnCli(args, world.env)
      await waitFor(`${at} restored messages`, () => recorder.total >= at, 60_000, 2)
      run.kill9()
      await run.result
      // A killed run's lock lives on for its TTL: cleared, as an operator would.
      await world.redis.client.del(`${world.redis.prefix}lock:dlq-restore:${archive}.restored`)
      await recorder.quiet(300, 30_000)
    }
    const last = await runCli(args, {env: world.env, timeoutMs: 120_000})
    expect(last.code, last.stderr).toBe(0)
    const report = JSON.parse(last.stdout)
    inDoubt = report.inDoubt.length
    expect(await recorder.settle(ids, 30_000)).toEqual([])
    await recorder.quiet(500, 30_000)
    // Each message arrived once, except those a killed run was publishing when it died (at most one batch per kill).
    const ledger = readFileSync(`${archive}.restored`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {done?: number[]; sending?: number[]})
    const done = new Set(ledger.flatMap((l) => l.done ?? []))
    expect(done.size).toBe(MESSAGES)
    // Each message arrived once, except lines a killed run was publishing when it died: sent again, at most one batch per kill.
    const sent = new Map<number, number>()
    for (const n of ledger.flatMap((l) => l.sending ?? [])) sent.set(n, (sent.get(n) ?? 0) + 1)
    const archivedIds = readFileSync(archive, 'utf8').trim().split('\n').map((l) => String((JSON.parse(l) as {messageId: string}).messageId))
    const resent = new Set([...sent].filter(([, times]) => times > 1).map(([n]) => archivedIds[n - 1]))
    const twice = [...recorder.counts].filter(([, c]) => c > 1).map(([id]) => id)
    expect(twice.filter((id) => !resent.has(id))).toEqual([])
    expect(resent.size).toBeLessThanOrEqual(3 * 50)
    expect(inDoubt).toBeLessThanOrEqual(50)

    const before = recorder.total
    const again = await runCli(args, {env: world.env})
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({restored: 0, alreadyRestored: MESSAGES})
    await recorder.quiet(300, 10_000)
    expect(recorder.total).toBe(before)
  })

  it('filters, an override queue, invalid lines and a ledger of another archive', async () => {
    await world.channel.assertQueue('restore.q', {durable: true})
    const archive = join(dir, 'mixed.jsonl')
    const line = (id: string, key: string) => JSON.stringify({archivedAt: new Date().toISOString(), queue: 'work.dlq', messageId: id, properties: {messageId: id},
      headers: {'x-death': [{queue: 'work.q', reason: 'rejected', exchange: 'work.x', 'routing-keys': [key], count: 1}]}, bodyEncoding: 'utf8', body: `{"id":"${id}"}`})
    writeFileSync(archive, `${[line('a1', 'order.created'), line('a2', 'order.paid'), 'garbage', line('a3', 'order.created')].join('\n')}\n`)
    const run = await runCli(['dlq', 'restore', archive, '--routing-key', 'order.created', '--to-queue', 'restore.q', '--yes', '--json'], {env: world.env})
    expect(run.code, run.stderr).toBe(1)
    expect(JSON.parse(run.stdout)).toMatchObject({restored: 2, left: 1, invalid: 1})
    expect((await world.channel.checkQueue('restore.q')).messageCount).toBe(2)
    writeFileSync(archive, `${line('b1', 'x')}\n`)
    const other = await runCli(['dlq', 'restore', archive, '--yes'], {env: world.env})
    expect(other.code).toBe(2)
    expect(other.stderr).toMatch(/belongs to another archive/)
    const missing = await runCli(['dlq', 'restore', join(dir, 'nope.jsonl'), '--yes'], {env: world.env})
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/does not exist/)
  })
})
