import {Args} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {type AuditRecord, showAudit} from '../../core/audit.js'
import {renderAuditRecord} from '../../render/audit.js'

export default class AuditShow extends BaseCommand<typeof AuditShow> {
  static summary = 'Show one audit record whole: who, when, the command and arguments, and everything it recorded.'
  static description = 'Exit 0 when the record exists, 1 when no record has this id, 2 on a connection error.'
  static examples = ['<%= config.bin %> <%= command.id %> 42', '<%= config.bin %> <%= command.id %> 42 --json']

  static args = {id: Args.string({description: 'the audit record id (the first column of msgops audit)', required: true})}

  async run(): Promise<AuditRecord | {found: false; id: string}> {
    const record = await showAudit(await this.services.mysql(), this.settings.audit.table, this.args.id)
    if (!record) {
      this.note(`no audit record has id ${this.args.id}`)
      this.found(true)
      return {found: false, id: this.args.id}
    }
    this.print(() => renderAuditRecord(record))
    return record
  }
}
