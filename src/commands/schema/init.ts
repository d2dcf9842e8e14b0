import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {initSchema, referenceDdl} from '../../core/schema.js'
import {paint} from '../../render/color.js'

/** Days that get their own partition at creation; `outbox prune --drop-partitions --add-partitions 7d` keeps it going. */
const AHEAD_DAYS = 7

export default class SchemaInit extends BaseCommand<typeof SchemaInit> {
  static summary = 'Create the reference tables: orders, outbox, inbox and the audit log.'
  static description = `Creates each table that does not exist, with the configured table and column names (a column mapped to null is left out; integer statuses give an INT status column). Existing tables are never altered, so running it twice is safe.
With --partitioned, the outbox is RANGE-partitioned by creation day (one partition for everything before today, one per day for the next ${AHEAD_DAYS} days, then pmax), so that \`msgops outbox prune --drop-partitions\` can drop old days at once; its primary key becomes (id, created_at). --partition-inbox partitions the inbox too, by received day: its unique key then has to include received_at, so a duplicate delivery is no longer refused by the key (see docs/retention.md).
With --print, writes the DDL to stdout and connects to nothing (partitions then start from this machine's UTC date).`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --print > schema.sql',
    '<%= config.bin %> <%= command.id %> --partitioned',
  ]

  static flags = {
    print: Flags.boolean({description: 'print the DDL instead of running it'}),
    partitioned: Flags.boolean({description: 'partition the outbox by creation day, for prune --drop-partitions'}),
    'partition-inbox': Flags.boolean({description: 'with --partitioned: the inbox too (its unique key then includes received_at: read docs/retention.md first)', dependsOn: ['partitioned']}),
  }

  async run(): Promise<{statements: string[]; created: string[]; existing: string[]}> {
    const f = this.flags
    const plan = f.partitioned ? {aheadDays: AHEAD_DAYS, inbox: f['partition-inbox']} : undefined
    if (f['partition-inbox']) this.note('note: a partitioned inbox cannot keep a unique key on the message id alone: a redelivery received at another time is not refused by the key (docs/retention.md)')
    if (f.print) {
      const statements = referenceDdl(this.settings, plan ? {...plan, today: new Date().toISOString().slice(0, 10)} : undefined)
      this.print(statements.map((s) => `${s};\n`).join('\n'))
      return {statements, created: [], existing: []}
    }
    const sql = await this.services.mysql()
    const result = await initSchema(sql, this.settings, plan)
    for (const table of result.created) this.print(`${paint('green', 'created')}  ${table}`)
    for (const table of result.existing) this.print(`${paint('dim', 'exists')}   ${table}`)
    if (plan && result.existing.includes(this.settings.outbox.table)) this.note(`note: the outbox table ${this.settings.outbox.table} already exists and was left as it is (docs/retention.md shows how to partition it)`)
    if (result.created.length > 0) await this.audit({created: result.created, partitioned: plan !== undefined})
    return result
  }
}
