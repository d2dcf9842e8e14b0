import {Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {parseDuration} from '../../core/duration.js'
import {listOutbox, type ListResult} from '../../core/outbox/list.js'
import {renderList} from '../../render/outbox.js'

export default class OutboxList extends BaseCommand<typeof OutboxList> {
  static summary = 'List outbox rows, filtered, in id order, one page at a time.'
  static description = `Shows id, status, attempts, age (blank without a time column), event type, routing key and last error (cut to fit the terminal); --older-than and --newer-than need a time column (outbox.columns.createdAt). Pages with a keyset cursor: the last line gives the --after value of the next page.
Exit 0 (also when nothing matches), 2 on a bad filter or a connection error.`

  static examples = [
    '<%= config.bin %> <%= command.id %> --status pending --older-than 5m',
    '<%= config.bin %> <%= command.id %> --status dead-letter --event-type order.created --limit 20',
    '<%= config.bin %> <%= command.id %> --aggregate-id 42 --after 0b6f…',
    '<%= config.bin %> <%= command.id %> --status pending --exchange orders.x',
  ]

  static flags = {
    status: Flags.string({description: 'pending, sent, dead-letter (or a configured status value)'}),
    'older-than': Flags.string({description: 'rows created at least this long ago, e.g. 5m'}),
    'newer-than': Flags.string({description: 'rows created at most this long ago, e.g. 1h'}),
    'aggregate-id': Flags.string({description: 'rows of this aggregate'}),
    'event-type': Flags.string({description: 'rows of this event type'}),
    exchange: Flags.string({description: 'rows published to this exchange (their own, or outbox.exchange when they have none)'}),
    limit: Flags.integer({description: 'rows per page', default: 50, min: 1, max: 10_000}),
    after: Flags.string({description: 'keyset cursor: rows whose id is greater than this'}),
  }

  async run(): Promise<ListResult> {
    const f = this.flags
    // A read replica when one is configured (--replica-url, mysql.replicaUrl): nothing here writes.
    const sql = await this.services.reader()
    const result = await listOutbox(sql, {
      config: this.settings,
      status: f.status,
      olderThanMs: f['older-than'] === undefined ? undefined : parseDuration(f['older-than'], '--older-than'),
      newerThanMs: f['newer-than'] === undefined ? undefined : parseDuration(f['newer-than'], '--newer-than'),
      aggregateId: f['aggregate-id'],
      eventType: f['event-type'],
      exchange: f.exchange,
      limit: f.limit,
      after: f.after,
    })
    this.print(renderList(result))
    return result
  }
}
