import type {Config} from '../config/schema.js'
import {ConfigError} from './errors.js'
import type {SqlExecutor} from './ports.js'
import {qid} from './sql.js'
import {inspectTables, requireTable, type TableCheck, type TableRole} from './tables.js'

/**
 * The one resolved form of a mapped table, for every command (outbox, reconcile, trace, prune): the configured names
 * checked against information_schema once, quoted once. A column the table has is a string (typed so when it is
 * required); one that is not mapped or not in the table is null. SQL uses `c` (quoted); messages and information_schema
 * use `names` (as configured).
 */
export interface TableMapping<Required extends string, Optional extends string> {
  role: TableRole
  /** The configured table name, for messages. */
  name: string
  /** The quoted table name, ready for SQL. */
  t: string
  c: {readonly [K in Required]: string} & {readonly [K in Optional]: string | null}
  names: {readonly [K in Required]: string} & {readonly [K in Optional]: string | null}
}

export type StatusValue = string | number

export const OUTBOX_REQUIRED = ['id', 'payload', 'status'] as const
export const INBOX_REQUIRED = ['messageId', 'status', 'receivedAt'] as const
export const ORDERS_REQUIRED = ['id'] as const

type OutboxOptional = 'createdAt' | 'aggregateType' | 'aggregateId' | 'eventType' | 'exchange' | 'routingKey' | 'headers' | 'attempts' | 'lastError' | 'availableAt' | 'sentAt'
type InboxOptional = 'consumer' | 'aggregateId' | 'attempts' | 'lastError' | 'processedAt'
type OrdersOptional = 'messageId' | 'status' | 'createdAt' | 'updatedAt'

export type OutboxMapping = TableMapping<(typeof OUTBOX_REQUIRED)[number], OutboxOptional> & {
  statuses: {pending: StatusValue; sent: StatusValue; deadLetter: StatusValue}
  /** Fallbacks when the row has no exchange / routing key column or value. */
  exchange: string | null
  routingKey: string | null
}
export type InboxMapping = TableMapping<(typeof INBOX_REQUIRED)[number], InboxOptional> & {
  statuses: {received: StatusValue | null; processed: StatusValue; failed: StatusValue}
}
export type OrdersMapping = TableMapping<(typeof ORDERS_REQUIRED)[number], OrdersOptional>

/** A table's mapping from its checked columns (raw names; null for a column it lacks). */
function mapTable<R extends string, O extends string>(role: TableRole, table: string, columns: Record<string, string | null>): TableMapping<R, O> {
  const names: Record<string, string | null> = {}
  const c: Record<string, string | null> = {}
  for (const [logical, name] of Object.entries(columns)) {
    names[logical] = name
    c[logical] = name === null ? null : qid(name)
  }
  return {role, name: table, t: qid(table), c, names} as TableMapping<R, O>
}

export function outboxMapping(config: Config, columns: Record<string, string | null>): OutboxMapping {
  const {pending, sent, deadLetter} = config.outbox.statuses
  if (new Set([String(pending), String(sent), String(deadLetter)]).size < 3)
    throw new ConfigError('outbox.statuses: pending, sent and deadLetter must be three different values', 'fix outbox.statuses in the configuration')
  return {...mapTable('outbox', config.outbox.table, columns), statuses: {pending, sent, deadLetter}, exchange: config.outbox.exchange, routingKey: config.outbox.routingKey}
}

export function inboxMapping(config: Config, columns: Record<string, string | null>): InboxMapping {
  return {...mapTable('inbox', config.inbox.table, columns), statuses: config.inbox.statuses}
}

export function ordersMapping(config: Config, columns: Record<string, string | null>): OrdersMapping {
  return mapTable('orders', config.orders.table, columns)
}

export interface Mappings {
  outbox: OutboxMapping
  inbox: InboxMapping
  orders: OrdersMapping
}

/**
 * Reads information_schema once and maps the tables asked for; a table asked for must exist with its required columns
 * (a clear ConfigError otherwise). The checks of every table come back too, for callers that use a table when it is there.
 */
export async function resolveMappings<R extends TableRole>(sql: SqlExecutor, config: Config, roles: readonly R[]): Promise<Pick<Mappings, R> & {checks: Record<TableRole, TableCheck>}> {
  return mapChecked(config, roles, await inspectTables(sql, config))
}

/** resolveMappings on checks already made (checkTables), for a caller that read information_schema for more than the names. */
export function mapChecked<R extends TableRole>(config: Config, roles: readonly R[], checks: Record<TableRole, TableCheck>): Pick<Mappings, R> & {checks: Record<TableRole, TableCheck>} {
  const out: Partial<Mappings> = {}
  for (const role of roles) {
    const columns = requireTable(checks[role])
    if (role === 'outbox') out.outbox = outboxMapping(config, columns)
    else if (role === 'inbox') out.inbox = inboxMapping(config, columns)
    else out.orders = ordersMapping(config, columns)
  }
  return {...(out as Pick<Mappings, R>), checks}
}
