import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {initSchema, referenceDdl} from '../../core/schema.js'
import {paint} from '../../render/color.js'

export default class SchemaInit extends BaseCommand<typeof SchemaInit> {
  static summary = 'Create the reference tables: orders, outbox, inbox and the audit log.'
  static description = `Creates each table that does not exist, with the configured table and column names (a column mapped to null is left out; integer statuses give an INT status column). Existing tables are never altered, so running it twice is safe.
With --print, writes the DDL to stdout and connects to nothing.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --print > schema.sql']

  static flags = {
    print: Flags.boolean({description: 'print the DDL instead of running it'}),
  }

  async run(): Promise<{statements: string[]; created: string[]; existing: string[]}> {
    if (this.flags.print) {
      const statements = referenceDdl(this.settings)
      this.print(statements.map((s) => `${s};\n`).join('\n'))
      return {statements, created: [], existing: []}
    }
    const sql = await this.services.mysql()
    const result = await initSchema(sql, this.settings)
    for (const table of result.created) this.print(`${paint('green', 'created')}  ${table}`)
    for (const table of result.existing) this.print(`${paint('dim', 'exists')}   ${table}`)
    if (result.created.length > 0) await this.audit({created: result.created})
    return result
  }
}
