import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {JsonlArchive} from '../../adapters/dlq.js'
import {changeOutcome} from '../../core/outcome.js'
import {discardGroup, type DiscardResult} from '../../core/outbox/discard.js'
import {checkGroup, parseWindow} from '../../core/outbox/failures.js'
import {changeFlags} from '../../flags.js'
import {discardQuestion, renderDiscard} from '../../render/failures.js'

export default class OutboxDiscard extends BaseCommand<typeof OutboxDiscard> {
  static summary = 'Delete the dead-letter rows of one failure group, archived first.'
  static description = `Takes the dead-letter rows of --group FINGERPRINT (printed by outbox failures), optionally only those created in --since/--until or of --event-type, and deletes them in transactions of --batch-size rows: each chunk is locked, appended to --archive FILE.jsonl as one JSON line per row (every column) and flushed to disk (fsync), and only then deleted and committed. The file is appended to, never truncated; an unwritable path is refused before anything is read. --without-archive deletes without a copy (the question and the audit say so).
A crash between the flush and the commit leaves the rows in the table and in the archive: running the command again archives them again and deletes them (a row may be in the archive twice, never zero times). Interrupted, the same command does the rest.
Exit 0 done (or the confirmation was declined), 2 a usage, configuration or connection error (an unknown group too), 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --group 3fa2c1d0 --dry-run',
    '<%= config.bin %> <%= command.id %> --group 3fa2c1d0 --archive /var/backups/outbox-3fa2c1d0.jsonl --yes',
    '<%= config.bin %> <%= command.id %> --group 3fa2c1d0 --until 7d --without-archive --yes --json',
  ]

  static graceful = 'the batch in hand'

  static flags = {
    ...changeFlags,
    group: Flags.string({description: 'the failure group (a fingerprint printed by outbox failures)', required: true}),
    archive: Flags.string({description: 'append each row to this JSON-lines file (flushed) before deleting it'}),
    'without-archive': Flags.boolean({description: 'delete without keeping a copy'}),
    since: Flags.string({description: 'rows created at or after this (24h, or a database time 2026-11-20 10:30)'}),
    until: Flags.string({description: 'rows created before this'}),
    'event-type': Flags.string({description: 'rows of this event type'}),
    'batch-size': Flags.integer({description: 'rows per transaction', default: 500, min: 1, max: 10_000}),
  }

  async run(): Promise<DiscardResult> {
    const f = this.flags
    const options = {
      config: this.settings, group: checkGroup(f.group), ...parseWindow(f.since, f.until), eventType: f['event-type'], dryRun: f['dry-run'],
      archivePath: f.archive, withoutArchive: f['without-archive'], batchSize: f['batch-size'], yes: f.yes,
    }
    const sql = await this.services.mysql()
    return this.change({
      needs: 'outbox discard',
      yes: f.yes, dryRun: f['dry-run'],
      lock: {name: 'outbox-discard', wait: f['wait-lock']},
      progress: 'discard',
      work: (ctx) => discardGroup(sql, {...options, signal: ctx.signal, confirm: (plan) => ctx.confirm(discardQuestion(plan, ctx.target))}, (path) => JsonlArchive.open(path), ctx.progress),
      outcome: (r) => changeOutcome(r, false),
      render: renderDiscard,
      audit: (r) => ({group: r.group, window: r.window, eventType: f['event-type'] ?? null, matching: r.matching, discarded: r.discarded, archived: r.archived, archive: r.archive, interrupted: r.interrupted}),
    })
  }
}
