import type {Config} from '../../config/schema.js'
import {parseDuration} from '../duration.js'
import {UsageError} from '../errors.js'
import {loadTopologyFile} from '../topology/model.js'
import {vhostOfAmqpUrl} from '../amqp-url.js'
import type {SnapshotOptions} from './snapshot.js'

/** A duration flag within bounds, or a usage error naming the flag and the range. */
export function boundedDuration(input: string, flag: string, minMs: number, maxMs: number, range: string): number {
  // A bare number is seconds, as outbox status --watch takes it.
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(input) ? Number(input) * 1000 : parseDuration(input, flag)
  if (!(ms >= minMs && ms <= maxMs)) throw new UsageError(`${flag} ${input} is out of range`, `use from ${range}`)
  return ms
}

/** The snapshot's options from the flags: the queues of the topology file, top.queues and --queue, in that order. */
export async function snapshotOptions(config: Config, input: {queues?: string[]; topologyFile?: string; timeout: string; stuckAfter: string; reconcileMetricsFile?: string}): Promise<SnapshotOptions> {
  const timeoutMs = boundedDuration(input.timeout, '--timeout', 100, 300_000, '100ms to 5m')
  const stuckAfterMs = parseDuration(input.stuckAfter, '--stuck-after')
  const topology = input.topologyFile ? await loadTopologyFile(input.topologyFile, vhostOfAmqpUrl(config.amqp.url)) : undefined
  const queues = [...new Set([...(topology?.queues.map((q) => q.name) ?? []), ...config.top.queues, ...(input.queues ?? [])])]
  return {config, queues, topology, timeoutMs, stuckAfterMs, reconcileMetricsFile: input.reconcileMetricsFile}
}
