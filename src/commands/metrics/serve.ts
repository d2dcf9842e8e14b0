import {Flags} from '@oclif/core'

import {listenMetrics, parseListen} from '../../adapters/metrics-http.js'
import {SnapshotSources} from '../../adapters/snapshot.js'
import {BaseCommand} from '../../base-command.js'
import {ScrapeCache} from '../../core/snapshot/cache.js'
import {boundedDuration, snapshotOptions} from '../../core/snapshot/options.js'
import {Snapshotter} from '../../core/snapshot/snapshot.js'
import {sleep} from '../../core/time.js'
import {snapshotFlags} from '../../flags.js'
import {scrapeAnswer} from '../../render/top-metrics.js'

export default class MetricsServe extends BaseCommand<typeof MetricsServe> {
  static summary = 'Serve the figures of msgops top on /metrics for Prometheus.'
  static description = `GET /metrics answers in the Prometheus text format with the figures of one snapshot of every source (the names of outbox status --metrics-file and reconcile --metrics-file, plus queues, dead-letter queues, inbox lag, locks). A snapshot is taken on a scrape and kept for --min-interval, so that a fast scraper cannot load the database; a scrape whose snapshot takes longer than --scrape-timeout gets the last one with msgops_snapshot_stale 1. GET /healthz answers ok while the server runs. SIGTERM or Ctrl-C closes it.
Exit 2 when --listen is bad or in use.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --listen 0.0.0.0:9464 --topology examples/topology.yaml',
  ]

  static flags = {
    ...snapshotFlags,
    listen: Flags.string({description: 'address and port to listen on, HOST:PORT', default: '127.0.0.1:9464'}),
    'min-interval': Flags.string({description: 'a scrape within this long of the last snapshot gets that one again', default: '5s'}),
    'scrape-timeout': Flags.string({description: 'a scrape waits this long for a new snapshot, then gets the last one marked stale', default: '4s'}),
  }

  async run(): Promise<{listened: string}> {
    const f = this.flags
    const listen = parseListen(f.listen)
    const minIntervalMs = boundedDuration(f['min-interval'], '--min-interval', 0, 3_600_000, '0s to 1h')
    const scrapeTimeoutMs = boundedDuration(f['scrape-timeout'], '--scrape-timeout', 100, 300_000, '100ms to 5m')
    const options = await snapshotOptions(this.settings, {queues: f.queue, topologyFile: f.topology, timeout: f.timeout, stuckAfter: f['stuck-after'], reconcileMetricsFile: f['reconcile-metrics-file']})
    const sources = new SnapshotSources(this.settings, Math.min(this.services.timeoutMs, options.timeoutMs), Math.max(10_000, 5 * options.timeoutMs))
    const snapshotter = new Snapshotter(sources, options)
    const cache = new ScrapeCache(() => snapshotter.take(), minIntervalMs, scrapeTimeoutMs)
    try {
      const server = await listenMetrics(listen, {
        metrics: async () => {
          const {snapshot, stale} = await cache.get()
          return scrapeAnswer(snapshot, {stale, taken: snapshotter.taken, nowMs: Date.now()})
        },
      })
      this.note(`listening on http://${server.address}/metrics (and /healthz); Ctrl-C or SIGTERM to stop`)
      while (!this.signal.aborted) await sleep(3_600_000, this.signal)
      await server.close()
      return {listened: server.address}
    } finally {
      await sources.close()
    }
  }
}
