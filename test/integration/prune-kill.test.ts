import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/env.js'
import {initReferenceSchema, useOutboxWorld} from '../helpers/outbox.js'
import {spawnCli, waitFor} from '../reliability/helpers/world.js'

const world = useOutboxWorld('msgops-prune-kill-')
const OLD = 3000
const KILLS = 4

describe('kill -9 of outbox prune --archive', () => {
  it(`loses nothing that was not archived and deletes nothing twice, over ${KILLS} kills`, async () => {
    const {conn, env} = await world.database()
    await initReferenceSchema(conn, env)
    await conn.query(`INSERT INTO outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('o-', LPAD(seq, 6, '0')), CONCAT('{"n":', seq, '}'), 'sent', NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 10 DAY FROM seq_1_to_${OLD}`)
    await conn.query(`INSERT INTO outbox (id, payload, status, created_at) SELECT CONCAT('p-', LPAD(seq, 6, '0')), '{}', 'pending', NOW(3) - INTERVAL 10 DAY FROM seq_1_to_50`)
    const archive = join(world.tempDir, 'kill.jsonl')
    const args = ['outbox', 'prune', '--older-than', '7d', '--archive', archive, '--chunk-size', '50', '--max-chunk-size', '50', '--rate', '1500', '--yes']
    const remaining = async () => {
      const [rows] = await conn.query("SELECT COUNT(*) AS n FROM outbox WHERE id LIKE 'o-%'")
      return Number((rows as {n: number}[])[0].n)
    }
    const archived = () => readFileSync(archive, 'utf8').split('\n').filter(Boolean).map((l) => String((JSON.parse(l) as {row: {id: string}}).row.id))
    const deletedIds = async () => {
      const [rows] = await conn.query("SELECT id FROM outbox WHERE id LIKE 'o-%'")
      const left = new Set((rows as {id: string}[]).map((r) => r.id))
      return Array.from({length: OLD}, (_, i) => `o-${String(i + 1).padStart(6, '0')}`).filter((id) => !left.has(id))
    }
    for (let kill = 1; kill <= KILLS; kill++) {
      const start = await remaining()
      const run = spawnCli(args, env)
      // Spread the kills over the work: after a share of what is left.
      await waitFor('rows deleted by this run', async () => (await remaining()) <= start - Math.floor(start / (KILLS + 2)), 60_000, 5)
      run.kill9()
      await run.result
      await world.redis.client.del(`${world.redis.prefix}lock:outbox-prune`)
      // Every deleted row is in the archive (written and fsynced before its DELETE committed).
      const inArchive = new Set(archived())
      expect((await deletedIds()).filter((id) => !inArchive.has(id))).toEqual([])
    }
    const last = await runCli(args, {env, timeoutMs: 120_000})
    expect(last.code, last.stderr).toBe(0)
    expect(await remaining()).toBe(0)
    const [pending] = await conn.query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
    expect(Number((pending as {n: number}[])[0].n)).toBe(50)
    const lines = archived()
    expect(new Set(lines).size).toBe(OLD)
    // A repeat is only a chunk in hand at a kill (archived, not yet committed): at most one chunk per kill.
    expect(lines.length - OLD).toBeLessThanOrEqual(KILLS * 50)
  })
})
