import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {AUDIT_RESULTS, type AuditPage, type AuditResult, listAudit} from '../../core/audit.js'
import {parseDuration} from '../../core/duration.js'
import {renderAuditList} from '../../render/audit.js'

export default class Audit extends BaseCommand<typeof Audit> {
  static summary = 'List the audit records of state-changing runs (drain, requeue, replay, purge, reconcile --fix, …), newest first.'
  static description = `Every msgops run that changed something wrote one record to the audit table (audit.table): when, who (OS user and host), the command and its arguments (secrets masked), what it did, and its exit code. Pages with a keyset cursor: the last line gives the --before value of the next page. \`msgops audit show ID\` prints one record whole.
Exit 0 (also when nothing matches), 2 on a bad filter or a connection error.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --command "outbox drain" --since 24h',
    '<%= config.bin %> <%= command.id %> --command "dlq *" --result error --json',
  ]

  static flags = {
    command: Flags.string({description: 'only this command, e.g. "outbox drain"; a trailing * takes a topic, e.g. "dlq *"'}),
    since: Flags.string({description: 'only records at most this old, e.g. 24h'}),
    until: Flags.string({description: 'only records at least this old, e.g. 1h'}),
    result: Flags.string({description: 'only runs that ended so', options: Object.keys(AUDIT_RESULTS)}),
    limit: Flags.integer({description: 'records per page', default: 20, min: 1, max: 10_000}),
    before: Flags.string({description: 'keyset cursor: records older than this id'}),
  }

  async run(): Promise<AuditPage> {
    const f = this.flags
    const page = await listAudit(await this.services.mysql(), this.settings.audit.table, {
      command: f.command,
      sinceMs: f.since === undefined ? undefined : parseDuration(f.since, '--since'),
      untilMs: f.until === undefined ? undefined : parseDuration(f.until, '--until'),
      result: f.result as AuditResult | undefined,
      beforeId: f.before,
      limit: f.limit,
    })
    this.print(() => renderAuditList(page))
    return page
  }
}
