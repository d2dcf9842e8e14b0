import {Flags} from '@oclif/core'

import {DEFAULT_ERROR_HEADERS} from './config/defaults.js'
import {type DeadLetterFilters, filtersFromInput} from './core/dlq/decide.js'
import {parseDuration} from './core/duration.js'

/** The flag sets several commands share, so that one idea has one name and one description everywhere. */

/** The flags of every state-changing command. */
export const changeFlags = {
  'dry-run': Flags.boolean({description: 'show what would be done; change nothing'}),
  yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
  'wait-lock': Flags.string({description: 'wait this long for another run holding the lock to finish, e.g. 5m'}),
}

/** Unacked deliveries of a dead-letter reader (replay, purge, edit): measured by `npm run bench -- replay`. */
export const DEFAULT_PREFETCH = 2000

/** The dead-letter filters of replay and purge. */
export const deadLetterFilterFlags = {
  group: Flags.string({description: 'only messages of this group (a group key or a fingerprint printed by dlq inspect); repeatable', multiple: true}),
  'routing-key': Flags.string({description: 'only messages whose original routing key matches this glob (* any characters, ? one)'}),
  header: Flags.string({description: 'only messages with this header value, as name=value; repeatable, all must match', multiple: true}),
  'message-id': Flags.string({description: 'only the message with this id; repeatable', multiple: true, aliases: ['id']}),
  reason: Flags.string({description: 'only messages whose first death reason is this; repeatable', multiple: true, options: ['rejected', 'expired', 'maxlen', 'delivery_limit', 'none']}),
  'older-than': Flags.string({description: 'only messages dead-lettered at least this long ago, e.g. 30m, 2h'}),
  'error-header': Flags.string({description: `header holding the error text, for --group keys; repeatable; replaces the configured dlq.errorHeaders (by default ${DEFAULT_ERROR_HEADERS.join(', ')})`, multiple: true}),
  idle: Flags.string({description: 'stop reading when no message arrives for this long', default: '2s'}),
  prefetch: Flags.integer({description: 'deliveries in flight from the queue', default: DEFAULT_PREFETCH, min: 1, max: 65_535}),
}

export function deadLetterFilters(flags: {group?: string[]; 'routing-key'?: string; header?: string[]; 'message-id'?: string[]; reason?: string[]; 'older-than'?: string}): DeadLetterFilters {
  return filtersFromInput({
    groups: flags.group,
    routingKey: flags['routing-key'],
    headers: flags.header,
    messageIds: flags['message-id'],
    reasons: flags.reason,
    olderThanMs: flags['older-than'] === undefined ? undefined : parseDuration(flags['older-than'], '--older-than'),
  })
}

/** The flags of the commands that read a snapshot of every source (top, metrics serve). */
export const snapshotFlags = {
  queue: Flags.string({description: 'a queue to show (repeatable; adds to top.queues and the queues of --topology); none: every queue of the vhost', multiple: true}),
  topology: Flags.string({description: 'a topology file (as for topology apply): its queues are shown, its dead-letter exchanges tell the dead-letter queues'}),
  timeout: Flags.string({description: 'how long each source (outbox, broker, inbox, reconcile, locks) may take before it shows as stale or unreachable', default: '2s'}),
  'stuck-after': Flags.string({description: 'pending rows older than this count as stuck', default: '5m'}),
  'reconcile-metrics-file': Flags.string({description: 'the file of reconcile --metrics-file: the last reconcile is the newer of it and the audit table (a reconcile without --fix is not audited)'}),
}
