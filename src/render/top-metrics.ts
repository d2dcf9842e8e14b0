import {collectDefaultMetrics, Counter, Gauge, Registry} from 'prom-client'

import {SOURCES, type Snapshot} from '../core/snapshot/model.js'
import {type Metric, METRICS} from './metrics.js'

type Spec = (typeof METRICS)[keyof typeof METRICS]
type Sample = Metric['samples'][number]

const metric = (spec: Spec, samples: Sample[]): Metric => ({...spec, samples})

/**
 * The figures of a snapshot as metrics (the names of render/metrics.ts): a stale part keeps its last figures, with
 * msgops_snapshot_source_up 0; a part without data has no series (a 0 would read as "nothing waiting").
 * `stale` marks a whole snapshot served again because the scrape's own snapshot took too long.
 */
export function snapshotMetrics(s: Snapshot, extra: {stale: boolean; taken: number; nowMs: number}): Metric[] {
  const out: Metric[] = []
  const o = s.outbox.data
  if (o) {
    const table = o.table
    out.push(metric(METRICS.outboxRows, Object.entries(o.counts).map(([status, value]) => ({labels: {table, status}, value}))))
    if (o.stuck !== null) {
      out.push(metric(METRICS.outboxOldestPendingAge, [{labels: {table}, value: (o.oldestPendingAgeMs ?? 0) / 1000}]))
      out.push(metric(METRICS.outboxStuck, [{labels: {table}, value: o.stuck}]))
    }
    if (o.sentLastMinute !== null) out.push(metric(METRICS.outboxSentRecent, [{labels: {table, window: '1m'}, value: o.sentLastMinute}]))
    if (o.failureGroups) out.push(metric(METRICS.outboxFailureGroup, o.failureGroups.map((g) => ({labels: {table, group: g.key}, value: g.count}))))
  }
  const b = s.broker.data
  if (b) {
    const existing = b.queues.filter((q) => q.exists)
    const per = (value: (q: (typeof existing)[number]) => number | null) =>
      existing.flatMap((q) => {
        const v = value(q)
        return v === null ? [] : [{labels: {vhost: b.vhost, queue: q.name}, value: v}]
      })
    out.push(metric(METRICS.queueReady, per((q) => q.ready)), metric(METRICS.queueUnacked, per((q) => q.unacked)), metric(METRICS.queueConsumers, per((q) => q.consumers)))
    out.push(metric(METRICS.queuePublished, per((q) => q.totals?.publish ?? null)), metric(METRICS.queueDelivered, per((q) => q.totals?.deliver ?? null)), metric(METRICS.queueAcked, per((q) => q.totals?.ack ?? null)))
    out.push(metric(METRICS.dlqMessages, per((q) => (q.deadLetter ? q.messages : null))))
    if (b.alarms) out.push(metric(METRICS.brokerAlarm, b.alarms.flatMap((a) => [{labels: {node: a.node, resource: 'memory'}, value: a.memory ? 1 : 0}, {labels: {node: a.node, resource: 'disk'}, value: a.disk ? 1 : 0}])))
    if (b.blockedConnections !== null) out.push(metric(METRICS.brokerBlocked, [{labels: {vhost: b.vhost}, value: b.blockedConnections}]))
  }
  const i = s.inbox.data
  if (i) {
    out.push(metric(METRICS.inboxReceivedRecent, [{labels: {table: i.table, window: '1m'}, value: i.receivedLastMinute}]), metric(METRICS.inboxFailed, [{labels: {table: i.table}, value: i.failed}]))
    if (i.lag && i.lag.of > 0) out.push(metric(METRICS.inboxLag, [{labels: {table: i.table, quantile: '0.5'}, value: i.lag.p50Ms / 1000}, {labels: {table: i.table, quantile: '0.99'}, value: i.lag.p99Ms / 1000}]))
  }
  const done = s.reconcile.data?.lastSuccess
  if (done) {
    out.push(metric(METRICS.reconcileFindings, Object.entries(done.findings).map(([check, value]) => ({labels: {check}, value}))))
    if (done.durationMs !== null) out.push(metric(METRICS.reconcileDuration, [{value: done.durationMs / 1000}]))
    out.push(metric(METRICS.reconcileLastSuccess, [{value: Math.floor(Date.parse(done.at) / 1000)}]))
  }
  const locks = s.locks.data?.locks
  if (locks) {
    out.push(metric(METRICS.lockHeld, locks.map((l) => ({labels: {lock: l.name}, value: 1}))))
    out.push(metric(METRICS.lockAge, locks.flatMap((l) => (l.since && !Number.isNaN(Date.parse(l.since)) ? [{labels: {lock: l.name}, value: Math.max(0, (extra.nowMs - Date.parse(l.since)) / 1000)}] : []))))
  }
  const partStale = SOURCES.some((source) => s[source].state === 'stale' || s[source].state === 'unreachable')
  out.push(
    metric(METRICS.sourceUp, SOURCES.map((source) => ({labels: {source}, value: s[source].state === 'ok' || s[source].state === 'absent' ? 1 : 0}))),
    metric(METRICS.sourceAge, SOURCES.flatMap((source) => {
      const at = s[source].readAt
      return at ? [{labels: {source}, value: Math.max(0, (extra.nowMs - Date.parse(at)) / 1000)}] : []
    })),
    metric(METRICS.snapshotStale, [{value: extra.stale || partStale ? 1 : 0}]),
    metric(METRICS.snapshotDuration, [{value: s.tookMs / 1000}]),
    metric(METRICS.snapshotTimestamp, [{value: Date.parse(s.at) / 1000}]),
    metric(METRICS.snapshotsTaken, [{value: extra.taken}]),
  )
  return out.filter((m) => m.samples.length > 0)
}

/** Metrics in a prom-client registry of their own (one per answer: nothing from an earlier snapshot lingers). */
export function metricsRegistry(metrics: Metric[]): Registry {
  const registry = new Registry()
  for (const m of metrics) {
    const labelNames = [...new Set(m.samples.flatMap((s) => Object.keys(s.labels ?? {})))]
    if (m.type === 'counter') {
      // A counter read from its source (the broker's totals, snapshots taken): its value is set once, by inc from 0.
      const c = new Counter({name: m.name, help: m.help, labelNames, registers: [registry]})
      for (const s of m.samples) c.inc(s.labels ?? {}, Math.max(0, s.value))
    } else {
      const g = new Gauge({name: m.name, help: m.help, labelNames, registers: [registry]})
      for (const s of m.samples) g.set(s.labels ?? {}, s.value)
    }
  }
  return registry
}

let processMetrics: Registry | undefined

/**
 * The answer of /metrics: the snapshot's metrics and the process's own (process_*, nodejs_*). Without any snapshot
 * yet (the first one has not answered within the scrape timeout), only that it is stale and how many were taken.
 */
export async function scrapeAnswer(snapshot: Snapshot | null, extra: {stale: boolean; taken: number; nowMs: number}): Promise<{contentType: string; text: string}> {
  if (!processMetrics) {
    processMetrics = new Registry()
    collectDefaultMetrics({register: processMetrics})
  }
  const metrics = snapshot
    ? snapshotMetrics(snapshot, extra)
    : [metric(METRICS.snapshotStale, [{value: 1}]), metric(METRICS.snapshotsTaken, [{value: extra.taken}])]
  const registry = Registry.merge([processMetrics, metricsRegistry(metrics)])
  return {contentType: registry.contentType, text: await registry.metrics()}
}
