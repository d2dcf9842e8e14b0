import {MysqlAdapter} from '../src/adapters/mysql.js'
import {cutKeys} from '../src/core/reconcile/ranges.js'
const sql = await MysqlAdapter.connect('mysql://root@127.0.0.1:3306/scale_explain_tmp', 5000)
for (const [column, parts] of [['id', 4], ['m', 4], ['m', 7], ['id', 16]] as const) {
  const t = Date.now()
  const cuts = await cutKeys(sql, {table: 't', column, numeric: false}, parts)
  const ms = Date.now() - t
  const counts = []
  let prev: string | null = null
  for (const c of [...cuts, null]) {
    const r = await sql.query<{n: number}>(`SELECT COUNT(*) n FROM t WHERE ${column} IS NOT NULL ${prev !== null ? `AND ${column} > ?` : ''} ${c !== null ? `AND ${column} <= ?` : ''}`, [prev, c].filter((x) => x !== null))
    counts.push(Number(r[0].n)); prev = c
  }
  console.log(column, parts, counts.join(' '), ms, 'ms')
}
await sql.close()
