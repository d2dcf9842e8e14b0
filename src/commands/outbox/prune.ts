import {Flags} from '@oclif/core'

import {parseDuration} from '../../core/duration.js'
import type {PruneResult} from '../../core/prune/plan.js'
import {changeFlags, pruneFlags, pruneOptions} from '../../flags.js'
import {PruneCommand} from '../../prune-command.js'

export default class OutboxPrune extends PruneCommand<typeof OutboxPrune> {
  static summary = 'Delete old sent outbox rows in small time-sized chunks, throttled on load and replica lag (pt-archiver style).'
  static description = `Deletes sent rows whose sent time (sent_at; created_at where no sent-at column is mapped) is older than --older-than (default outbox.retention). Pending rows are never touched; dead-letter rows only with --include-dead-letters, by their creation time and --dead-older-than.
The primary key is walked in keyset chunks: per chunk, a plain read of the next candidate keys, then one short transaction deleting those keys where the row is still sent and old, so a row requeued or changed meanwhile stays. The chunk size starts at --chunk-size and follows --chunk-time; --pace auto (the default) runs the polite setting (5 ms chunks, each followed by a pause twice as long) while others' statements on the server reach 20 per second, and full speed (--chunk-time 500ms, no pause) on an idle server; --pace full or polite fixes it (docs/retention.md, "Measured"). Before each chunk it pauses while Threads_running exceeds --max-load or a replica (--replica-url, mysql.replicaUrl) lags more than --max-lag, and says why on the progress line.
--archive FILE writes each row as a JSON line (gzip when the name ends in .gz), fsynced before its chunk's DELETE commits; after a crash the next run's archive may repeat the rows of the chunk in hand. --drop-partitions drops whole day partitions instead (docs/retention.md). Ctrl-C, SIGTERM, --limit and --until finish the chunk in hand. Runs under the Redis lock outbox-prune.
Exit 0 done (or stopped at --limit/--until), 1 old partitions kept for rows that must stay, 2 usage, archive, configuration or connection errors, 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --older-than 7d --dry-run',
    '<%= config.bin %> <%= command.id %> --older-than 7d --archive /var/backups/outbox-$(date +%F).jsonl.gz --until 20m --yes',
    '<%= config.bin %> <%= command.id %> --older-than 30d --include-dead-letters --dead-older-than 90d --yes --json',
    '<%= config.bin %> <%= command.id %> --older-than 7d --drop-partitions --add-partitions 7d --yes',
  ]

  static flags = {
    'older-than': Flags.string({description: 'sent rows older than this go (default outbox.retention)'}),
    'include-dead-letters': Flags.boolean({description: 'also dead-letter rows created before --dead-older-than', dependsOn: ['dead-older-than']}),
    'dead-older-than': Flags.string({description: 'with --include-dead-letters: their age, by creation time', dependsOn: ['include-dead-letters']}),
    ...pruneFlags,
    ...changeFlags,
  }

  async run(): Promise<PruneResult> {
    const f = this.flags
    const request = {
      kind: 'outbox' as const, config: this.settings, rows: pruneOptions(f),
      olderThanMs: parseDuration(f['older-than'] ?? this.settings.outbox.retention, '--older-than'),
      deadOlderThanMs: f['dead-older-than'] === undefined ? undefined : parseDuration(f['dead-older-than'], '--dead-older-than'),
      dropPartitions: f['drop-partitions'], addAheadDays: f['add-partitions'] === undefined ? undefined : parseDuration(f['add-partitions'], '--add-partitions') / 86_400_000,
    }
    return this.prune('outbox-prune', request, f)
  }
}
