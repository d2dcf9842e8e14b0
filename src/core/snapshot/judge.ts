import type {Config} from '../../config/schema.js'
import {formatDuration, parseDuration} from '../duration.js'
import {SOURCES, type Snapshot} from './model.js'

export interface Thresholds {
  pendingAgeMs: number
  deadLetterRows: number
  dlqMessages: number
  inboxLagP99Ms: number
  reconcileFindings: number
}

export type Level = 'ok' | 'warn' | 'alert'

export interface Judgement {
  /** The level of each figure shown, by key: oldestPending, deadLetters, stuck, queue:NAME, inboxLag, inboxFailed, reconcile, alarms, source:NAME. */
  levels: Record<string, Level>
  /** One line per figure at 'alert': non-empty means exit 1 for `top --once`. */
  alerts: string[]
}

/** top.thresholds of the configuration with the --fail-if-* flags over them. */
export function thresholdsFrom(config: Config, flags: Partial<Thresholds> = {}): Thresholds {
  const t = config.top.thresholds
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined))
  return {
    pendingAgeMs: parseDuration(t.pendingAge, 'top.thresholds.pendingAge'),
    deadLetterRows: t.deadLetterRows,
    dlqMessages: t.dlqMessages,
    inboxLagP99Ms: parseDuration(t.inboxLagP99, 'top.thresholds.inboxLagP99'),
    reconcileFindings: t.reconcileFindings,
    ...defined,
  }
}

const n = (v: number) => v.toLocaleString('en-US')

/**
 * The level of every figure of a snapshot against the thresholds, a pure decision.
 *
 * | figure                                  | warn (yellow)                 | alert (red, exit 1 with --once)     |
 * | --------------------------------------- | ----------------------------- | ----------------------------------- |
 * | oldest pending outbox row               | older than half pendingAge    | older than pendingAge               |
 * | dead-letter outbox rows                 | at least 1                    | at least deadLetterRows             |
 * | stuck outbox rows                       | at least 1                    | never (the oldest age alerts)       |
 * | a dead-letter queue's messages          | at least 1, or growing        | at least dlqMessages                |
 * | a work queue                            | no consumer                   | no consumer and messages waiting    |
 * | a queue that does not exist             | never                         | always                              |
 * | inbox lag p99                           | above half inboxLagP99        | above inboxLagP99                   |
 * | failed inbox records                    | at least 1                    | never                               |
 * | last completed reconcile's findings     | the newest run failed         | at least reconcileFindings          |
 * | broker alarms, blocked connections      | never                         | any                                 |
 * | a source                                | stale or unreachable          | never (unreachable: --once exits 2) |
 * | a figure without data                   | never                         | never                               |
 */
export function judge(snapshot: Snapshot, t: Thresholds): Judgement {
  const levels: Record<string, Level> = {}
  const alerts: string[] = []
  const set = (key: string, level: Level, alert?: string) => {
    levels[key] = level
    if (level === 'alert' && alert) alerts.push(alert)
  }
  const o = snapshot.outbox.data
  if (o) {
    const age = o.oldestPendingAgeMs
    if (age !== null) set('oldestPending', age > t.pendingAgeMs ? 'alert' : age > t.pendingAgeMs / 2 ? 'warn' : 'ok', `the oldest pending outbox row is ${formatDuration(age)} old (threshold ${formatDuration(t.pendingAgeMs)})`)
    const dead = o.counts['dead-letter'] ?? 0
    set('deadLetters', dead >= t.deadLetterRows ? 'alert' : dead > 0 ? 'warn' : 'ok', `${n(dead)} dead-letter outbox rows (threshold ${n(t.deadLetterRows)})`)
    if (o.stuck !== null) set('stuck', o.stuck > 0 ? 'warn' : 'ok')
  }
  for (const q of snapshot.broker.data?.queues ?? []) {
    const key = `queue:${q.name}`
    if (!q.exists) set(key, 'alert', `queue ${q.name} does not exist`)
    else if (q.deadLetter)
      set(key, q.messages >= t.dlqMessages ? 'alert' : q.messages > 0 || (q.change ?? 0) > 0 ? 'warn' : 'ok', `dead-letter queue ${q.name} holds ${n(q.messages)} messages (threshold ${n(t.dlqMessages)})`)
    else set(key, q.consumers > 0 ? 'ok' : q.messages > 0 ? 'alert' : 'warn', `queue ${q.name} has ${n(q.messages)} messages and no consumer`)
  }
  const b = snapshot.broker.data
  if (b && (b.alarms !== null || b.blockedConnections !== null)) {
    const raised = (b.alarms ?? []).flatMap((a) => [...(a.memory ? [`memory on ${a.node}`] : []), ...(a.disk ? [`disk on ${a.node}`] : [])])
    const blocked = b.blockedConnections ?? 0
    const what = [...raised.map((r) => `alarm: ${r}`), ...(blocked > 0 ? [`${blocked} blocked connection${blocked === 1 ? '' : 's'}`] : [])]
    set('alarms', what.length > 0 ? 'alert' : 'ok', `RabbitMQ ${what.join(', ')}`)
  }
  const i = snapshot.inbox.data
  if (i) {
    if (i.lag && i.lag.of > 0) set('inboxLag', i.lag.p99Ms > t.inboxLagP99Ms ? 'alert' : i.lag.p99Ms > t.inboxLagP99Ms / 2 ? 'warn' : 'ok', `inbox lag p99 is ${formatDuration(i.lag.p99Ms)} (threshold ${formatDuration(t.inboxLagP99Ms)})`)
    set('inboxFailed', i.failed > 0 ? 'warn' : 'ok')
  }
  const r = snapshot.reconcile.data
  if (r?.last) {
    const findings = r.lastSuccess?.total ?? 0
    const failed = r.last.exitCode !== 0 && r.last.exitCode !== 1
    set('reconcile', findings >= t.reconcileFindings ? 'alert' : failed ? 'warn' : 'ok', `the last reconcile found ${n(findings)} discrepanc${findings === 1 ? 'y' : 'ies'} (threshold ${n(t.reconcileFindings)})`)
  }
  for (const source of SOURCES) {
    const part = snapshot[source]
    set(`source:${source}`, part.state === 'unreachable' ? 'warn' : part.state === 'stale' ? 'warn' : 'ok')
  }
  return {levels, alerts}
}
