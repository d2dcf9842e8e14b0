import mysql from 'mysql2/promise'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {cliEnv, createTestRedis, runCli, type TestRedis} from '../helpers/env.js'
import {type ServerPair, startServerPair} from '../helpers/mariadb-pair.js'
import {spawnCli, waitFor} from '../reliability/helpers/world.js'

/**
 * A replica-lag throttle needs a replica, and the shared server must not be reconfigured: this file starts its own
 * primary and replica (mariadb-install-db into a temp folder, two ports), bounded in time, and removes them after.
 */
let pair: ServerPair
let redis: TestRedis
let primaryPort = 0
let replicaPort = 0

beforeAll(async () => {
  pair = await startServerPair()
  ;({primaryPort, replicaPort} = pair)
  redis = await createTestRedis()
}, 120_000)

afterAll(async () => {
  await redis?.cleanup()
  await pair?.stop()
}, 60_000)

async function lagOf(conn: mysql.Connection): Promise<number | null> {
  const [rows] = await conn.query('SHOW SLAVE STATUS')
  const value = (rows as {Seconds_Behind_Master: number | null}[])[0]?.Seconds_Behind_Master
  return value === undefined ? null : value
}

describe('outbox prune on a lagging replica (a private primary and replica)', () => {
  it('pauses while the replica lags more than --max-lag, says why, and goes on once it caught up', async () => {
    const primary = await mysql.createConnection({host: '127.0.0.1', port: primaryPort, user: 'root'})
    const replica = await mysql.createConnection({host: '127.0.0.1', port: replicaPort, user: 'root'})
    try {
      await primary.query('CREATE DATABASE shop')
      await primary.query('CREATE TABLE shop.heartbeat (id INT PRIMARY KEY, beat INT NOT NULL)')
      await primary.query('INSERT INTO shop.heartbeat VALUES (1, 0)')
      const env = cliEnv({redis})
      env.MSGOPS_MYSQL_URL = `mysql://root@127.0.0.1:${primaryPort}/shop`
      const init = await runCli(['schema', 'init'], {env})
      expect(init.code, init.stderr).toBe(0)
      await primary.query("INSERT INTO shop.outbox (id, payload, status, created_at, sent_at) SELECT CONCAT('o-', seq), '{}', 'sent', NOW(3) - INTERVAL 10 DAY, NOW(3) - INTERVAL 10 DAY FROM shop.seq_1_to_200")
      await waitFor('the replica to have the rows', async () => {
        const [rows] = await replica.query('SELECT COUNT(*) AS n FROM shop.outbox').catch(() => [[{n: 0}]])
        return Number((rows as {n: number}[])[0].n) === 200
      }, 30_000, 100)

      // The replica's SQL thread waits on a row lock held here while the primary goes on: the replica falls behind.
      await replica.query('BEGIN')
      await replica.query('SELECT * FROM shop.heartbeat WHERE id = 1 FOR UPDATE')
      await primary.query('UPDATE shop.heartbeat SET beat = beat + 1 WHERE id = 1')
      await waitFor('the replica to lag 2 s', async () => ((await lagOf(replica)) ?? 0) >= 2, 30_000, 100)

      const run = spawnCli(['outbox', 'prune', '--older-than', '7d', '--replica-url', `mysql://root@127.0.0.1:${replicaPort}/shop`, '--max-lag', '1s', '--yes'], env)
      let stderr = ''
      run.child.stderr!.on('data', (d) => (stderr += d))
      await waitFor('the pause notice', () => /paused: replica 127\.0\.0\.1:\d+ lags \d+s > 1s/.test(stderr), 30_000)
      const [held] = await primary.query("SELECT COUNT(*) AS n FROM shop.outbox WHERE id LIKE 'o-%'")
      expect(Number((held as {n: number}[])[0].n)).toBe(200)

      await replica.query('COMMIT')
      const result = await run.result
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toMatch(/paused +1× .*replica 1/)
      const [left] = await primary.query("SELECT COUNT(*) AS n FROM shop.outbox WHERE id LIKE 'o-%'")
      expect(Number((left as {n: number}[])[0].n)).toBe(0)
      // A URL that is no replica is refused before anything.
      const notReplica = await runCli(['outbox', 'prune', '--older-than', '7d', '--replica-url', `mysql://root@127.0.0.1:${primaryPort}/shop`, '--yes'], {env})
      expect(notReplica.code).toBe(2)
      expect(notReplica.stderr).toMatch(/is not a replica/)
    } finally {
      await primary.end()
      await replica.end()
    }
  }, 120_000)
})

