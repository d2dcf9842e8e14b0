import type {Config} from '../config/schema.js'
import {tableStats} from './introspect.js'
import {ConfigError} from './errors.js'
import type {SqlPort} from './ports.js'
import {addDays, dayPartitions} from './prune/partitions.js'
import {qid} from './sql.js'

type Line = string | null

function statusType(values: (string | number | null)[]): string {
  return values.every((v) => v === null || typeof v === 'number') ? 'INT' : 'VARCHAR(32)'
}

function literal(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`
}

function col(name: string | null, type: string): Line {
  return name === null ? null : `  ${qid(name)} ${type}`
}

function table(name: string, lines: Line[], partitions = ''): string {
  const body = lines.filter((l): l is string => l !== null).join(',\n')
  return `CREATE TABLE IF NOT EXISTS ${qid(name)} (\n${body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4${partitions}`
}

/** Day partitions of the reference tables (schema init --partitioned). */
export interface PartitionPlan {
  /** The server's date (YYYY-MM-DD): one partition holds everything before it, then one per day. */
  today: string
  /** Days ahead that get their own partition now; later ones land in pmax until `prune --add-partitions` splits them out. */
  aheadDays: number
  /** The inbox too: its unique key then includes received_at, so INSERT IGNORE no longer deduplicates (docs/retention.md). */
  inbox: boolean
}

/** PARTITION BY RANGE COLUMNS(col): everything before today, a partition per day up to today + ahead, then pmax. */
function partitionClause(column: string, plan: PartitionPlan): string {
  const parts = [
    `PARTITION ${qid(`p${addDays(plan.today, -1).replaceAll('-', '')}`)} VALUES LESS THAN ('${plan.today}')`,
    ...dayPartitions('columns', plan.today, addDays(plan.today, plan.aheadDays)),
    'PARTITION `pmax` VALUES LESS THAN (MAXVALUE)',
  ]
  return `\nPARTITION BY RANGE COLUMNS(${qid(column)}) (\n  ${parts.join(',\n  ')}\n)`
}

function index(kind: 'KEY' | 'UNIQUE KEY', name: string, columns: (string | null)[]): Line {
  if (columns.some((c) => c === null)) return null
  return `  ${kind} ${qid(name)} (${(columns as string[]).map(qid).join(', ')})`
}

/**
 * The DDL of the reference tables, with the configured table and column names
 * (a column mapped to null is left out) and an INT status column when the statuses are integers.
 * Every identifier passes through qid(); runs on MariaDB 10.11 and MySQL 8.
 */
export function referenceDdl(config: Config, partitioned?: PartitionPlan): string[] {
  const o = config.outbox.columns
  const os = config.outbox.statuses
  const i = config.inbox.columns
  const is = config.inbox.statuses
  const r = config.orders.columns
  const outboxStatus = statusType([os.pending, os.sent, os.deadLetter])
  const inboxStatus = statusType([is.received, is.processed, is.failed])
  // MySQL requires the partitioning column in every unique key, the primary key included.
  if (partitioned && o.createdAt === null) throw new ConfigError('--partitioned needs outbox.columns.createdAt: the outbox is partitioned by creation day', 'map outbox.columns.createdAt')
  const outboxKey = partitioned ? [o.id, o.createdAt as string] : [o.id]
  const inboxParts = partitioned?.inbox === true
  const inboxUnique = [i.messageId, ...(i.consumer === null ? [] : [i.consumer]), ...(inboxParts ? [i.receivedAt] : [])]
  return [
    table(config.orders.table, [
      col(r.id, 'VARCHAR(64) NOT NULL'),
      col(r.messageId, 'VARCHAR(64) NULL'),
      col(r.status, "VARCHAR(32) NOT NULL DEFAULT 'created'"),
      '  `amount` DECIMAL(12,2) NOT NULL DEFAULT 0',
      col(r.createdAt, 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)'),
      col(r.updatedAt, 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)'),
      `  PRIMARY KEY (${qid(r.id)})`,
      index('KEY', 'idx_orders_message_id', [r.messageId]),
      index('KEY', 'idx_orders_created_at', [r.createdAt]),
    ]),
    table(config.outbox.table, [
      col(o.id, 'VARCHAR(64) NOT NULL'),
      col(o.aggregateType, 'VARCHAR(64) NULL'),
      col(o.aggregateId, 'VARCHAR(64) NULL'),
      col(o.eventType, 'VARCHAR(128) NULL'),
      col(o.exchange, 'VARCHAR(255) NULL'),
      col(o.routingKey, 'VARCHAR(255) NULL'),
      col(o.payload, 'JSON NOT NULL'),
      col(o.headers, 'JSON NULL'),
      col(o.status, `${outboxStatus} NOT NULL DEFAULT ${literal(os.pending)}`),
      col(o.attempts, 'INT NOT NULL DEFAULT 0'),
      col(o.lastError, 'TEXT NULL'),
      col(o.createdAt, 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)'),
      col(o.availableAt, 'DATETIME(3) NULL'),
      col(o.sentAt, 'DATETIME(3) NULL'),
      `  PRIMARY KEY (${outboxKey.map(qid).join(', ')})`,
      index('KEY', 'idx_outbox_status_created', [o.status, o.createdAt]),
      index('KEY', 'idx_outbox_aggregate_id', [o.aggregateId]),
      index('KEY', 'idx_outbox_created_at', [o.createdAt]),
      index('KEY', 'idx_outbox_sent_at', [o.sentAt]),
      // No idx_outbox_id (the ids alone, for reconcile's merge): it cost every order transaction 5–10% (bench/RESULTS.md#order-insert); doctor prints it.
    ], partitioned ? partitionClause(o.createdAt as string, partitioned) : ''),
    table(config.inbox.table, [
      '  `id` BIGINT NOT NULL AUTO_INCREMENT',
      col(i.messageId, 'VARCHAR(64) NOT NULL'),
      col(i.consumer, "VARCHAR(128) NOT NULL DEFAULT 'default'"),
      col(i.aggregateId, 'VARCHAR(64) NULL'),
      col(i.status, `${inboxStatus} NOT NULL DEFAULT ${literal(is.received ?? is.processed)}`),
      col(i.attempts, 'INT NOT NULL DEFAULT 0'),
      col(i.lastError, 'TEXT NULL'),
      col(i.receivedAt, 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)'),
      col(i.processedAt, 'DATETIME(3) NULL'),
      inboxParts ? `  PRIMARY KEY (\`id\`, ${qid(i.receivedAt)})` : '  PRIMARY KEY (`id`)',
      index('UNIQUE KEY', 'uq_inbox_message_consumer', inboxUnique),
      index('KEY', 'idx_inbox_status_received', [i.status, i.receivedAt]),
      // Covers reconcile's scan of the inbox in time order with its lookups by message id.
      index('KEY', 'idx_inbox_received_message', i.consumer === null ? [i.receivedAt, i.messageId] : [i.receivedAt, i.messageId, i.consumer]),
    ], inboxParts && partitioned ? partitionClause(i.receivedAt, partitioned) : ''),
    auditDdl(config.audit.table),
  ]
}

export function auditDdl(tableName: string): string {
  return table(tableName, [
    '  `id` BIGINT NOT NULL AUTO_INCREMENT',
    '  `at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)',
    '  `os_user` VARCHAR(128) NOT NULL',
    '  `host` VARCHAR(255) NOT NULL',
    '  `command` VARCHAR(128) NOT NULL',
    '  `arguments` JSON NOT NULL',
    '  `outcome` JSON NOT NULL',
    '  `exit_code` INT NOT NULL',
    '  PRIMARY KEY (`id`)',
    '  KEY `idx_audit_at` (`at`)',
  ])
}

export interface SchemaInitResult {
  statements: string[]
  created: string[]
  existing: string[]
}

/** Creates the tables that are missing; existing tables are left exactly as they are. */
export async function initSchema(sql: SqlPort, config: Config, partitioned?: Omit<PartitionPlan, 'today'>): Promise<SchemaInitResult> {
  const names = [config.orders.table, config.outbox.table, config.inbox.table, config.audit.table]
  const before = new Set(await existingTables(sql, names))
  const [today] = partitioned ? await sql.query<{d: string}>("SELECT DATE_FORMAT(CURDATE(), '%Y-%m-%d') AS d") : []
  const statements = referenceDdl(config, partitioned ? {...partitioned, today: String(today.d)} : undefined)
  for (const statement of statements) await sql.execute(statement)
  return {
    statements,
    created: names.filter((n) => !before.has(n.toLowerCase())),
    existing: names.filter((n) => before.has(n.toLowerCase())),
  }
}

export async function existingTables(sql: SqlPort, names: string[]): Promise<string[]> {
  return (await tableStats(sql, names)).map((r) => r.table.toLowerCase())
}
