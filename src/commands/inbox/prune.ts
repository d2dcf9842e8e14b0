import {Flags} from '@oclif/core'

import {parseDuration} from '../../core/duration.js'
import type {PruneResult} from '../../core/prune/plan.js'
import {changeFlags, pruneFlags, pruneOptions} from '../../flags.js'
import {PruneCommand} from '../../prune-command.js'

export default class InboxPrune extends PruneCommand<typeof InboxPrune> {
  static summary = 'Delete old consumed-message records from the inbox in small chunks, never inside the dedupe window.'
  static description = `Deletes processed records received before --older-than (default inbox.dedupeWindow). Deleting a record re-opens the door to a duplicate of its message, so an age below inbox.dedupeWindow (default 7d) is refused unless --force-below-dedupe-window, which says why it is dangerous. Failed records go only with --include-failed, unprocessed ones only with --include-unprocessed.
Chunks, --pace, throttling (--sleep, --sleep-coef, --rate), --archive, --limit, --until and --drop-partitions work as in \`msgops outbox prune\` (docs/retention.md). Runs under the Redis lock inbox-prune.
Exit 0 done (or stopped at --limit/--until), 1 old partitions kept for records that must stay, 2 usage, archive, configuration or connection errors, 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --older-than 14d --dry-run',
    '<%= config.bin %> <%= command.id %> --older-than 14d --until 20m --yes',
    '<%= config.bin %> <%= command.id %> --older-than 30d --include-failed --archive /var/backups/inbox.jsonl.gz --yes',
  ]

  static flags = {
    'older-than': Flags.string({description: 'records received longer ago than this go (default inbox.dedupeWindow; never less unless forced)'}),
    'include-failed': Flags.boolean({description: 'also failed records'}),
    'include-unprocessed': Flags.boolean({description: 'also records not processed yet (inbox.statuses.received)'}),
    'force-below-dedupe-window': Flags.boolean({description: 'allow --older-than below inbox.dedupeWindow: a late redelivery of such a message is then processed twice'}),
    ...pruneFlags,
    ...changeFlags,
  }

  async run(): Promise<PruneResult> {
    const f = this.flags
    const request = {
      kind: 'inbox' as const, config: this.settings, rows: pruneOptions(f),
      olderThanMs: parseDuration(f['older-than'] ?? this.settings.inbox.dedupeWindow, '--older-than'),
      includeFailed: f['include-failed'], includeUnprocessed: f['include-unprocessed'], forceBelowDedupeWindow: f['force-below-dedupe-window'],
      dropPartitions: f['drop-partitions'], addAheadDays: f['add-partitions'] === undefined ? undefined : parseDuration(f['add-partitions'], '--add-partitions') / 86_400_000,
    }
    return this.prune('inbox-prune', request, f)
  }
}
