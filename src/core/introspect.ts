import type {SqlPort} from './ports.js'

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

const leadsWhole = (column: string) => (c: IndexColumn) => c.seq === 1 && c.column.toLowerCase() === column.toLowerCase() && c.subPart === null

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
export async function keyColumnInfo(sql: SqlPort, columns: {table: string; column: string}[]): Promise<KeyColumnInfo[]> {
  const info = await sql.query<{t: string; c: string; dt: string; coll: string | null}>(
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS dt, COLLATION_NAME AS coll FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [columns.map((c) => c.table)],
  )
  const stats = await sql.query<{t: string; i: string; seq: unknown; c: string; sub: unknown}>(
    'SELECT TABLE_NAME AS t, INDEX_NAME AS i, SEQ_IN_INDEX AS seq, COLUMN_NAME AS c, SUB_PART AS sub FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?)',
    [columns.map((c) => c.table)],
  )
  const same = (a: {t: string; c: string}, k: {table: string; column: string}) => String(a.t).toLowerCase() === k.table.toLowerCase() && String(a.c).toLowerCase() === k.column.toLowerCase()
  return columns.map((k) => {
    const row = info.find((r) => same(r, k))
    const indexes: IndexColumn[] = stats
      .filter((r) => String(r.t).toLowerCase() === k.table.toLowerCase())
      .map((r) => indexColumn(r.i, r.seq, r.c, r.sub))
    return {
      dataType: String(row?.dt ?? 'unknown'),
      collation: row?.coll ?? null,
      indexed: stats.some((r) => Number(r.seq) === 1 && same(r, k)),
      narrow: narrowIndex(indexes, k.column),
    }
  })
}
