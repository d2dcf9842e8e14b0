import {expect} from 'vitest'

import {type QueueRecorder, sleep, spawnCli, waitFor} from './world.js'

export interface KillRound {
  round: number
  /** What was left to do when the run started (pending rows, dead letters). */
  before: number
  /** False when the run finished by itself before its moment came (it exited 0). */
  killed: boolean
}

export interface KillRoundsOptions {
  args: string[]
  env: Record<string, string>
  /** Where the run's messages arrive: the moments are counted in them. */
  recorder: QueueRecorder
  rand: () => number
  kills: number
  /** What is left to do; 0 ends the rounds early. */
  remaining(): Promise<number>
  /** The invariant checked after every round, killed or not. */
  afterRound(round: KillRound): Promise<void>
}

/**
 * Runs the command again and again and kills it with SIGKILL at a random moment, until `kills` runs were killed
 * (in at most kills × 3 rounds) or nothing is left to do. Returns the moments (negative: ms after the start,
 * positive: messages of the run) and the number of rounds.
 */
export async function killRounds(o: KillRoundsOptions): Promise<{moments: number[]; rounds: number}> {
  const moments: number[] = []
  let round = 0
  while (moments.length < o.kills && round < o.kills * 3) {
    round++
    const before = await o.remaining()
    if (before === 0) break
    const seen = o.recorder.total
    const run = spawnCli(o.args, o.env)
    let finished = false
    void run.result.then(() => (finished = true))
    const early = o.rand() < 0.15
    // Early: a time while it starts and connects (at the latest its first message). Otherwise: after a random number of its messages reached the queue,
    // on average an even share of what is left, so that the moments spread over the whole work whatever the machine's speed.
    const at = early ? Math.round(100 + o.rand() * 1500) : 1 + Math.floor((o.rand() * 2 * before) / (o.kills - moments.length + 1))
    const moment = (async () => {
      // Early means before its first message, however fast the command has become: a time, or that message.
      if (early) await Promise.race([sleep(at), waitFor('the first message of this run', () => finished || o.recorder.total > seen, 60_000, 2)])
      else await waitFor(`${at} messages of this run`, () => finished || o.recorder.total >= seen + at, 60_000, 2)
      return false
    })()
    const exited = await Promise.race([run.result.then(() => true), moment])
    if (!exited) run.kill9()
    const result = await run.result
    if (exited) expect(result.code, result.stderr).toBe(0)
    else moments.push(early ? -at : at)
    await o.afterRound({round, before, killed: !exited})
  }
  return {moments, rounds: round}
}
