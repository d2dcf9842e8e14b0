import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {TouchedIds, withIds} from '../../core/audit.js'
import {parseDuration} from '../../core/duration.js'
import {changeOutcome} from '../../core/outcome.js'
import {checkGroup, parseWindow} from '../../core/outbox/failures.js'
import {requeueGroup, type GroupRequeueResult, requeueOutbox, type RequeueResult} from '../../core/outbox/requeue.js'
import {changeFlags} from '../../flags.js'
import {groupRequeueQuestion, renderGroupRequeue} from '../../render/failures.js'
import {renderRequeue, requeueQuestion} from '../../render/outbox.js'

const NOT_WITH_GROUP = ['message-id', 'older-than', 'error-contains', 'all']

export default class OutboxRequeue extends BaseCommand<typeof OutboxRequeue> {
  static summary = 'Put dead-letter outbox rows back to pending, with their attempts reset.'
  static description = `Selects dead-letter rows by --message-id (repeatable), --event-type, --older-than and --error-contains (all given filters apply), or every one with --all; or the rows of one failure group with --group FINGERPRINT (printed by outbox failures), with --since/--until and --event-type. The last error is kept as history. The next drain publishes them again.
A group is requeued in keyset batches of --batch-size rows, each one UPDATE guarded by the dead-letter status: interrupted or killed, the same command again does the rest.
Exit 0 done (or nothing matched a filter), 2 a usage, configuration or connection error (an unknown group too), 130 interrupted.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --error-contains NO_ROUTE --dry-run',
    '<%= config.bin %> <%= command.id %> --group 3fa2c1d0 --since 24h --dry-run',
    '<%= config.bin %> <%= command.id %> --message-id 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c --message-id 7d1e… --yes',
    '<%= config.bin %> <%= command.id %> --event-type order.created --older-than 1h --yes',
    '<%= config.bin %> <%= command.id %> --all --yes --json',
  ]

  static graceful = 'the batch in hand'

  static flags = {
    'dry-run': changeFlags['dry-run'],
    yes: changeFlags.yes,
    'message-id': Flags.string({description: 'a row id, which is its message id (repeatable; --id is the old spelling)', multiple: true, aliases: ['id']}),
    'event-type': Flags.string({description: 'rows of this event type'}),
    'older-than': Flags.string({description: 'rows created at least this long ago, e.g. 1h'}),
    'error-contains': Flags.string({description: 'rows whose last error contains this text'}),
    all: Flags.boolean({description: 'every dead-letter row'}),
    group: Flags.string({description: 'the dead-letter rows of this failure group (a fingerprint printed by outbox failures)', exclusive: NOT_WITH_GROUP}),
    since: Flags.string({description: 'with --group: rows created at or after this (24h, or a database time 2026-11-20 10:30)', dependsOn: ['group']}),
    until: Flags.string({description: 'with --group: rows created before this', dependsOn: ['group']}),
    'batch-size': Flags.integer({description: 'rows per UPDATE', default: 1000, min: 1, max: 10_000}),
  }

  async run(): Promise<RequeueResult | GroupRequeueResult> {
    const f = this.flags
    if (f.group !== undefined) return this.requeueGroup(checkGroup(f.group))
    const sql = await this.services.mysql()
    const options = {
      config: this.settings, ids: f['message-id'], eventType: f['event-type'], errorContains: f['error-contains'], all: f.all, dryRun: f['dry-run'], batchSize: f['batch-size'],
      olderThanMs: f['older-than'] === undefined ? undefined : parseDuration(f['older-than'], '--older-than'),
    }
    const touched = new TouchedIds()
    return this.change({
      needs: 'outbox requeue',
      yes: f.yes, dryRun: f['dry-run'],
      progress: 'requeue',
      work: (ctx) => requeueOutbox(sql, {...options, signal: ctx.signal, onRequeued: (ids) => touched.add('requeue', ids), confirm: ({matching}) => ctx.confirm(requeueQuestion(matching, ctx.target))}, ctx.progress),
      outcome: (r) => changeOutcome(r, false),
      render: renderRequeue,
      audit: (r) => withIds({matching: r.matching, requeued: r.requeued, interrupted: r.interrupted}, touched),
      auditError: () => withIds({}, touched),
    })
  }

  private async requeueGroup(group: string): Promise<GroupRequeueResult> {
    const f = this.flags
    const options = {config: this.settings, group, ...parseWindow(f.since, f.until), eventType: f['event-type'], dryRun: f['dry-run'], batchSize: f['batch-size'], yes: f.yes}
    const sql = await this.services.mysql()
    return this.change({
      needs: 'outbox requeue',
      yes: f.yes, dryRun: f['dry-run'],
      progress: 'requeue',
      work: (ctx) => requeueGroup(sql, {...options, signal: ctx.signal, confirm: (plan) => ctx.confirm(groupRequeueQuestion(plan, ctx.target))}, ctx.progress),
      outcome: (r) => changeOutcome(r, false),
      render: renderGroupRequeue,
      audit: (r) => ({group: r.group, window: r.window, eventType: f['event-type'] ?? null, matching: r.matching, requeued: r.requeued, interrupted: r.interrupted}),
    })
  }
}
