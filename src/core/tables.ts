import type {Config} from '../config/schema.js'
import {ConfigError} from './errors.js'
import {type TableColumn, tableColumns} from './introspect.js'
import type {SqlExecutor} from './ports.js'

export type TableRole = 'outbox' | 'inbox' | 'orders'

/** Columns every command needs; the others are used where the table has them. */
export const REQUIRED_COLUMNS: Record<TableRole, string[]> = {
  outbox: ['id', 'payload', 'status'],
  inbox: ['messageId', 'status', 'receivedAt'],
  orders: ['id'],
}

export interface TableCheck {
  role: TableRole
  table: string
  exists: boolean
  /** Mapped columns, by logical name; an optional column the table lacks is null. */
  columns: Record<string, string | null>
  missingRequired: string[]
  missingOptional: string[]
}

/** The tables the configuration maps, by role. */
function mappedTables(config: Config): Record<TableRole, {table: string; columns: Record<string, string | null>}> {
  return {outbox: config.outbox, inbox: config.inbox, orders: config.orders}
}

/** The names of the mapped tables, for the one information_schema read (tableColumns) that checkTables takes. */
export function mappedTableNames(config: Config): string[] {
  return Object.values(mappedTables(config)).map((m) => m.table)
}

/** Reads information_schema once and tells, for each mapped table, which mapped columns really exist. */
export async function inspectTables(sql: SqlExecutor, config: Config): Promise<Record<TableRole, TableCheck>> {
  return checkTables(config, await tableColumns(sql, mappedTableNames(config)))
}

/** inspectTables on columns already read (tableColumns of mappedTableNames), for a caller that also wants their types. */
export function checkTables(config: Config, columns: TableColumn[]): Record<TableRole, TableCheck> {
  const mapped = mappedTables(config)
  const present = new Map<string, Set<string>>()
  for (const row of columns) {
    const t = row.table.toLowerCase()
    if (!present.has(t)) present.set(t, new Set())
    present.get(t)!.add(row.column.toLowerCase())
  }
  const result = {} as Record<TableRole, TableCheck>
  for (const role of Object.keys(mapped) as TableRole[]) {
    const {table, columns} = mapped[role]
    const have = present.get(table.toLowerCase())
    const check: TableCheck = {role, table, exists: have !== undefined, columns: {}, missingRequired: [], missingOptional: []}
    for (const [logical, name] of Object.entries(columns)) {
      const exists = name !== null && have?.has(name.toLowerCase()) === true
      check.columns[logical] = exists ? name : null
      if (name !== null && !exists) (REQUIRED_COLUMNS[role].includes(logical) ? check.missingRequired : check.missingOptional).push(`${logical} (${name})`)
    }
    result[role] = check
  }
  return result
}

/** The resolved columns of one table, or a clear error when the table or a required column is missing. */
export function requireTable(check: TableCheck): Record<string, string | null> {
  if (!check.exists)
    throw new ConfigError(`the ${check.role} table "${check.table}" does not exist`, `run \`msgops schema init\`, or map ${check.role}.table to your table`)
  if (check.missingRequired.length > 0)
    throw new ConfigError(
      `the ${check.role} table "${check.table}" has no column ${check.missingRequired.join(', ')}`,
      `map ${check.role}.columns to your column names`,
    )
  return check.columns
}
