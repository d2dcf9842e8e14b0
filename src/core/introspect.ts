import type {SqlExecutor} from './ports.js'

/**
 * Every information_schema query of msgops: the columns, indexes and sizes of the mapped tables, for the mapping
 * (tables.ts), doctor, status, schema init and reconcile's merge plan. Names compare case-insensitively, as MySQL's do.
 */

/** The same identifier, whatever its case. */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

/** One column of a table, as information_schema.COLUMNS lists it. */
export interface TableColumn {
  table: string
  column: string
  dataType: string
  collation: string | null
}

/** information_schema DATA_TYPE names of the integer types. */
export const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'])

/** The columns of these tables (of the current database). */
export async function tableColumns(sql: SqlExecutor, tables: string[]): Promise<TableColumn[]> {
  const rows = await sql.query<{t: unknown; c: unknown; dt: unknown; coll: string | null}>(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS dt, COLLATION_NAME AS coll FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [tables],
  )
  return rows.map((r) => ({table: String(r.t), column: String(r.c), dataType: String(r.dt ?? 'unknown'), collation: r.coll ?? null}))
}

/** The tables among these that exist, with the row count the statistics estimate (TABLE_ROWS). */
export async function tableStats(sql: SqlExecutor, tables: string[]): Promise<{table: string; rows: number}[]> {
  const rows = await sql.query<{t: unknown; n: unknown}>('SELECT TABLE_NAME AS t, TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)', [tables])
  return rows.map((r) => ({table: String(r.t), rows: Number(r.n ?? 0)}))
}

/** The columns of every index of these tables, by table, index and position in the index. */
export async function indexColumns(sql: SqlExecutor, tables: string[]): Promise<(IndexColumn & {table: string})[]> {
  const rows = await sql.query<{t: unknown; i: unknown; seq: unknown; c: unknown; sub: unknown}>(
    'SELECT TABLE_NAME AS t, INDEX_NAME AS i, SEQ_IN_INDEX AS seq, COLUMN_NAME AS c, SUB_PART AS sub FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
    [tables],
  )
  return rows.map((r) => ({table: String(r.t), ...indexColumn(r.i, r.seq, r.c, r.sub)}))
}

/** Some index of the table starts with the column. */
export function leadsIndex(columns: IndexColumn[], column: string): boolean {
  return columns.some((c) => c.seq === 1 && sameName(c.column, column))
}

/** What information_schema says about a key column. */
export interface KeyColumnInfo {
  dataType: string
  collation: string | null
  /** The column leads an index, so reading it in order is a range scan and not a sort. */
  indexed: boolean
  /** See narrowIndex. */
  narrow: string | null
}

/** One column of one index, as information_schema.STATISTICS lists it. */
export interface IndexColumn {
  index: string
  seq: number
  column: string
  /** A prefix index's length: such an index holds no whole key. */
  subPart: number | null
}

/** An information_schema.STATISTICS row as an IndexColumn. */
export function indexColumn(index: unknown, seq: unknown, column: unknown, subPart: unknown): IndexColumn {
  return {index: String(index), seq: Number(seq), column: String(column), subPart: subPart === null || subPart === undefined ? null : Number(subPart)}
}

const leadsWhole = (column: string) => (c: IndexColumn) => c.seq === 1 && sameName(c.column, column) && c.subPart === null

/** The column (whole) is the first of the primary key: the rows themselves are stored in its order. */
export function leadsPrimaryKey(columns: IndexColumn[], column: string): boolean {
  return columns.some((c) => c.index === 'PRIMARY' && leadsWhole(column)(c))
}

/**
 * The secondary index to read a key column from. InnoDB stores the rows in the primary key, so reading a column that
 * leads it reads every row (the outbox's payload too: 112 MB for a million bench rows, 0.8 s); a secondary index
 * that starts with the column holds only the column and the primary key (18 MB, 0.3 s). MariaDB picks the primary key
 * for a range on it even then, hence the hint.
 *
 * | column leads the PRIMARY key | secondary index led by the whole column | index                               |
 * | ---------------------------- | --------------------------------------- | ----------------------------------- |
 * | yes                          | one or more                             | the one with fewest columns (then by name) |
 * | yes                          | none (or only a prefix index)           | null: the primary key is read       |
 * | no                           | any                                     | null: the optimizer reads the secondary index already |
 */
export function narrowIndex(columns: IndexColumn[], column: string): string | null {
  const leads = leadsWhole(column)
  if (!leadsPrimaryKey(columns, column)) return null
  const width = (index: string) => columns.filter((c) => c.index === index).length
  const candidates = columns.filter((c) => c.index !== 'PRIMARY' && leads(c)).map((c) => c.index)
  candidates.sort((a, b) => width(a) - width(b) || (a < b ? -1 : a > b ? 1 : 0))
  return candidates[0] ?? null
}

/** Reads type, collation and whether an index starts with the column, for each key column. */
export async function keyColumnInfo(sql: SqlExecutor, columns: {table: string; column: string}[]): Promise<KeyColumnInfo[]> {
  const tables = columns.map((c) => c.table)
  const info = await tableColumns(sql, tables)
  const stats = await indexColumns(sql, tables)
  return columns.map((k) => {
    const row = info.find((r) => sameName(r.table, k.table) && sameName(r.column, k.column))
    const indexes = stats.filter((r) => sameName(r.table, k.table))
    return {dataType: row?.dataType ?? 'unknown', collation: row?.collation ?? null, indexed: leadsIndex(indexes, k.column), narrow: narrowIndex(indexes, k.column)}
  })
}
