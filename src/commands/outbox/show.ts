import {Args} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {showOutbox, type ShownRow} from '../../core/outbox/list.js'
import {renderShow} from '../../render/outbox.js'

export default class OutboxShow extends BaseCommand<typeof OutboxShow> {
  static summary = 'Show one outbox row whole, with its payload as indented JSON.'
  static description = 'Exit 0 when the row exists, 1 when no row has this id, 2 on a connection error.'
  static examples = ['<%= config.bin %> <%= command.id %> 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c', '<%= config.bin %> <%= command.id %> 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c --json']

  static args = {
    id: Args.string({description: 'the row id (the message id)', required: true}),
  }

  async run(): Promise<ShownRow | {found: false; id: string}> {
    // A read replica when one is configured (--replica-url, mysql.replicaUrl): nothing here writes.
    const sql = await this.services.reader()
    const row = await showOutbox(sql, {config: this.settings, id: this.args.id})
    if (!row) {
      this.note(`no outbox row has id ${this.args.id}`)
      this.found(true)
      return {found: false, id: this.args.id}
    }
    this.print(renderShow(row))
    return row
  }
}
