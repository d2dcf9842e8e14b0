import {createHash, randomBytes} from 'node:crypto'

import type {Config} from '../../config/schema.js'
import type {Part} from '../part.js'
import type {CheckName, MergedCheck} from './checks.js'
import type {KeyRange, KeyRole} from './ranges.js'
import type {CheckResult} from './report.js'
import type {Bounds, TimeSpec} from './window.js'

/** The key-value store that holds checkpoints and the plan the parts of one run share (Redis, under redis.keyPrefix). */
export interface ReconcileStore {
  get(key: string): Promise<string | null>
  /** SET NX with a lifetime: true when the key was free and now holds value. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>
  set(key: string, value: string, ttlMs: number): Promise<void>
  delete(key: string): Promise<void>
}

/** What the parts of one run share, so that their ranges meet exactly and their findings are of one window. */
export interface RunPlan {
  /** Names the run: every part's JSON carries it, and reconcile merge joins only parts of one run. */
  run: string
  bounds: Bounds
  /** The checks the merge plan answers: one plan for all parts, since it decides which key range a finding falls in. */
  merged: MergedCheck[]
  /** N-1 cuts of each cut table's key column; the inbox shares the outbox's when their keys compare alike. */
  cuts: Partial<Record<KeyRole, string[]>>
}

/** Where a part stands: the last key of its last finished chunk, per cut table (null: none finished yet); done when read to its end. */
export interface Position {
  after: string | null
  done: boolean
  /** A chunk of it was read: the NULL keys (read with the first chunk) are behind. */
  started: boolean
}

/** A reconcile's state after its last finished chunk: enough to go on from there with the same findings. */
export interface Checkpoint {
  version: 2
  /** configFingerprint: a checkpoint of another configuration is not used. */
  fingerprint: string
  plan: RunPlan
  positions: Partial<Record<KeyRole, Position>>
  /** The findings of the finished chunks. */
  results: Partial<Record<CheckName, CheckResult>>
  chunks: number
  chunkSize: number
  /** Candidates found only late on the replica, so far. */
  late: number
}

const hash = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16)

/** What a run's findings depend on besides the data: the mapping, the checks and the window as given. */
export interface RunSpec {
  checks: CheckName[]
  since: TimeSpec
  until?: TimeSpec
  graceMs: number
  sample: number
  plan?: string
}

/**
 * The configuration a checkpoint or a shared plan is valid for: the tables, columns, statuses and cache as mapped, the
 * checks, the sample size and the plan. A change of any of them invalidates a checkpoint (said in one line).
 */
export function configFingerprint(config: Config, spec: RunSpec): string {
  return hash({outbox: config.outbox, inbox: config.inbox, orders: config.orders, cache: config.cache, checks: [...spec.checks].sort(), sample: spec.sample, plan: spec.plan ?? 'auto'})
}

/** The database a run reads, without its credentials: two databases under one Redis prefix keep their own checkpoints. */
function databaseOf(config: Config): string {
  const url = new URL(config.mysql.url)
  return `${url.hostname}:${url.port || 3306}${url.pathname}`
}

const windowOf = (spec: RunSpec) => ({since: spec.since.text, until: spec.until?.text ?? null, grace: spec.graceMs})

/** The checkpoint's key: by database, window (as given) and part. */
export function checkpointKey(prefix: string, config: Config, spec: RunSpec, part: Part | undefined): string {
  return `${prefix}reconcile:checkpoint:${hash({db: databaseOf(config), window: windowOf(spec)})}:${part ? `${part.index}-${part.count}` : 'whole'}`
}

/** The key of the plan the N parts of a run share: by database, window, configuration and N. */
export function runPlanKey(prefix: string, config: Config, spec: RunSpec, count: number): string {
  return `${prefix}reconcile:parts:${hash({db: databaseOf(config), window: windowOf(spec), config: configFingerprint(config, spec)})}:${count}`
}

export function newRunId(): string {
  return `${new Date().toISOString().slice(0, 19).replaceAll(/[-:]/g, '')}-${randomBytes(3).toString('hex')}`
}

/** How long the parts of a run may start after the first and still share its plan. */
export const RUN_PLAN_TTL_MS = 3_600_000
/** How long a checkpoint is kept for --resume. */
export const CHECKPOINT_TTL_MS = 7 * 86_400_000

/**
 * A checkpoint as read for --resume.
 *
 * | stored checkpoint                   | result                                                   |
 * | ----------------------------------- | -------------------------------------------------------- |
 * | none                                | {checkpoint: undefined, note: "no checkpoint …"}         |
 * | not readable, or another version    | {checkpoint: undefined, note: "… unreadable …"}          |
 * | another configuration (fingerprint) | {checkpoint: undefined, note: "… another configuration …"} |
 * | this configuration                  | {checkpoint}                                             |
 */
export function readCheckpoint(text: string | null, fingerprint: string): {checkpoint?: Checkpoint; note?: string} {
  if (text === null) return {note: 'resume: no checkpoint for this window and part, starting from the beginning'}
  let parsed: Checkpoint
  try {
    parsed = JSON.parse(text) as Checkpoint
  } catch {
    return {note: 'resume: the checkpoint is unreadable, starting from the beginning'}
  }
  if (parsed?.version !== 2) return {note: 'resume: the checkpoint is of another msgops version, starting from the beginning'}
  if (parsed.fingerprint !== fingerprint) return {note: 'resume: the checkpoint was made with another configuration (tables, columns, statuses, cache, checks or sample), starting from the beginning'}
  return {checkpoint: parsed}
}

/** The range of a part on a cut column from its run's cuts. */
export function partOf(cuts: string[] | undefined, part: Part | undefined, numeric: boolean): KeyRange {
  if (!part || !cuts) return {after: null, upTo: null, nulls: true, numeric}
  return {after: part.index === 1 ? null : cuts[part.index - 2], upTo: part.index === part.count ? null : cuts[part.index - 1], nulls: part.index === 1, numeric}
}
