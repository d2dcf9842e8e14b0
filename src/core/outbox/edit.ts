import type {Config} from '../../config/schema.js'
import {UsageError} from '../errors.js'
import type {Row, SqlExecutor, SqlPort} from '../ports.js'
import {type OutboxTable, payloadText, resolveOutbox, rowHeaders, statusName} from './table.js'

/** A row as the person saw it before editing: what the version check compares with at write time. */
export interface EditableRow {
  id: string
  status: string
  attempts: number | null
  eventType: string | null
  lastError: string | null
  /** The payload column's JSON text, exactly as read. */
  payloadText: string
  /** The headers column's text as read; null when the table has no headers column. */
  headersText: string | null
  payload: unknown
  headers: Record<string, unknown> | null
}

/** What the edit writes: the new payload (and headers when the table has them). */
export interface EditedContent {
  payload: unknown
  headers: Record<string, unknown> | null
}

export interface EditResult {
  id: string
  unchanged: boolean
  cancelled: boolean
  previousStatus: string
  attempts: number | null
  before: EditedContent
  after: EditedContent
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null
  return Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'object' ? JSON.stringify(value) : String(value)
}

function editable(table: OutboxTable, row: Row): EditableRow {
  const n = table.names
  const payload = payloadText(row[n.payload])
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    parsed = payload
  }
  const headers = n.headers === null ? null : rowHeaders(row[n.headers])
  return {
    id: String(row[n.id]),
    status: statusName(table, row[n.status]),
    attempts: n.attempts === null || row[n.attempts] === null ? null : Number(row[n.attempts]),
    eventType: n.eventType === null ? null : text(row[n.eventType]),
    lastError: n.lastError === null ? null : text(row[n.lastError]),
    payloadText: payload,
    headersText: n.headers === null ? null : text(row[n.headers]),
    payload: parsed,
    headers: headers === null ? null : 'headers' in headers ? headers.headers : {},
  }
}

async function readRow(on: SqlExecutor, table: OutboxTable, id: string, lock: boolean): Promise<Row | undefined> {
  const rows = await on.query(`SELECT * FROM ${table.t} FORCE INDEX (PRIMARY) WHERE ${table.c.id} = ?${lock ? ' FOR UPDATE' : ''}`, [id])
  return rows[0]
}

/** The row to edit, read without a lock (the editor may stay open for minutes); a missing or sent row is refused. */
export async function readEditable(sql: SqlExecutor, config: Config, id: string): Promise<{table: OutboxTable; row: EditableRow}> {
  const table = await resolveOutbox(sql, config)
  const found = await readRow(sql, table, id, false)
  if (!found) throw new UsageError(`no outbox row has id ${id}`, 'check the id (msgops outbox failures shows sample ids, outbox list the rows)')
  const row = editable(table, found)
  const decision = decideEdit(row, row)
  if (decision.action === 'refuse') throw new UsageError(decision.why, decision.hint)
  return {table, row}
}

export type EditDecision = {action: 'apply'} | {action: 'refuse'; why: string; hint: string}

/**
 * Whether the edit may be written, decided on the row locked FOR UPDATE at write time against the row as it was
 * shown. A drain publishes a row only while it holds the same lock, so a drain either finished first (the row is
 * sent: refused, the old payload went out once) or comes after the commit and reads the new payload.
 *
 * | row now (locked)                        | payload / headers vs shown | decision                                         |
 * | --------------------------------------- | -------------------------- | ------------------------------------------------ |
 * | gone                                    | -                          | refuse: deleted meanwhile                        |
 * | sent                                    | any                        | refuse: sent meanwhile, the old payload went out |
 * | not pending nor dead-letter             | any                        | refuse: unknown status                           |
 * | pending or dead-letter                  | different                  | refuse: edited meanwhile, edit again             |
 * | pending or dead-letter (attempts moved) | the same                   | apply (a failed attempt changed no payload)      |
 * | pending or dead-letter                  | the same                   | apply: payload written, status pending           |
 */
export function decideEdit(shown: Pick<EditableRow, 'id' | 'payloadText' | 'headersText'>, now: Pick<EditableRow, 'status' | 'payloadText' | 'headersText'> | undefined): EditDecision {
  if (!now) return {action: 'refuse', why: `outbox row ${shown.id} was deleted meanwhile; nothing was changed`, hint: 'check it with msgops trace'}
  if (now.status === 'sent')
    return {action: 'refuse', why: `outbox row ${shown.id} is sent (published and confirmed): its payload can no longer be edited; nothing was changed`, hint: 'publish a corrected event from the application instead'}
  if (now.status !== 'pending' && now.status !== 'dead-letter')
    return {action: 'refuse', why: `outbox row ${shown.id} has status ${now.status}, neither pending nor dead-letter; nothing was changed`, hint: 'check outbox.statuses in the configuration'}
  if (now.payloadText !== shown.payloadText || now.headersText !== shown.headersText)
    return {action: 'refuse', why: `outbox row ${shown.id} was changed by someone else while it was being edited; nothing was changed`, hint: 'run msgops outbox edit again on the new payload'}
  return {action: 'apply'}
}

/** The edited text as JSON: one line naming the problem and where, never a stack. */
export function parseJsonText(input: string, what: string): unknown {
  try {
    return JSON.parse(input)
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message.split('\n')[0]}`, 'fix it and run again; nothing was changed')
  }
}

/** What the editor shows: the payload alone, or {payload, headers} when the table has a headers column. */
export function editorDocument(row: EditableRow): string {
  return `${JSON.stringify(row.headers === null ? row.payload : {payload: row.payload, headers: row.headers}, null, 2)}\n`
}

/** The editor's document back as content; headers must stay an object. */
export function fromEditorDocument(row: EditableRow, input: string): EditedContent {
  const parsed = parseJsonText(input, 'the edited document')
  if (row.headers === null) return {payload: parsed, headers: null}
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !('payload' in parsed))
    throw new UsageError('the edited document must stay {"payload": …, "headers": {…}}', 'fix it and run again; nothing was changed')
  const doc = parsed as {payload: unknown; headers?: unknown}
  const headers = doc.headers ?? {}
  if (typeof headers !== 'object' || Array.isArray(headers) || headers === null) throw new UsageError('"headers" in the edited document must be a JSON object', 'fix it and run again; nothing was changed')
  return {payload: doc.payload, headers: headers as Record<string, unknown>}
}

/**
 * --set path=value on the payload: the path is dot-separated keys (array indexes as numbers), the value JSON when it
 * parses (42, true, "x", {…}), else the text itself.
 *
 * | path                      | payload                    | result                                 |
 * | ------------------------- | -------------------------- | -------------------------------------- |
 * | a.b (a is an object)      | {a: {b: 1}}                | {a: {b: value}}                        |
 * | a.b (a missing)           | {}                         | {a: {b: value}} (objects are created)  |
 * | items.0.sku               | {items: [{sku: "x"}]}      | that element's sku set                 |
 * | a.b (a is not an object)  | {a: 3}                     | usage error naming the path            |
 * | any (payload not object)  | "text", 3, […] at the root | usage error: --set needs a JSON object |
 * | no '=' or an empty path   | -                          | usage error                            |
 */
export function applySet(payload: unknown, assignment: string): unknown {
  const at = assignment.indexOf('=')
  const path = at > 0 ? assignment.slice(0, at).trim() : ''
  if (path === '' || path.split('.').some((k) => k === '')) throw new UsageError(`--set "${assignment.slice(0, 60)}" is not path=value`, 'write it as --set customer.email=a@b.c')
  const raw = assignment.slice(at + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // Not JSON: the text itself.
  }
  if (!payload || typeof payload !== 'object') throw new UsageError(`--set needs a payload that is a JSON object, not ${payload === null ? 'null' : typeof payload}`, 'use --payload-file or the editor instead')
  const root = structuredClone(payload) as Record<string, unknown>
  const keys = path.split('.')
  let node: Record<string, unknown> = root
  for (const [i, key] of keys.entries()) {
    if (i === keys.length - 1) {
      node[key] = value
      break
    }
    if (node[key] === undefined) node[key] = {}
    const next = node[key]
    if (!next || typeof next !== 'object') throw new UsageError(`--set ${path}: ${keys.slice(0, i + 1).join('.')} is ${JSON.stringify(next)}, not an object`, 'name a path inside objects')
    node = next as Record<string, unknown>
  }
  return root
}

/** The content unchanged: nothing to write (compared as JSON values, not as formatted text). */
export function sameContent(row: EditableRow, next: EditedContent): boolean {
  return JSON.stringify(next.payload) === JSON.stringify(row.payload) && JSON.stringify(next.headers) === JSON.stringify(row.headers)
}

/**
 * Writes an edit in one transaction: the row locked by primary key and re-read, decideEdit on it, then one UPDATE
 * (payload, headers, status pending, a note in last_error; attempts kept, so a payload that still fails becomes a
 * dead letter again after one attempt) guarded by the status just read.
 */
export async function applyEdit(sql: SqlPort, table: OutboxTable, shown: EditableRow, next: EditedContent, editedAt: Date): Promise<EditResult> {
  return sql.transaction(async (tx) => {
    const locked = await readRow(tx, table, shown.id, true)
    const now = locked ? editable(table, locked) : undefined
    const decision = decideEdit(shown, now)
    if (decision.action === 'refuse') throw new UsageError(decision.why, decision.hint)
    const {c, t, names} = table
    const sets = [`${c.payload} = ?`, `${c.status} = ?`]
    const params: unknown[] = [JSON.stringify(next.payload), table.statuses.pending]
    if (c.headers && next.headers !== null) {
      sets.push(`${c.headers} = ?`)
      params.push(JSON.stringify(next.headers))
    }
    if (c.lastError) {
      sets.push(`${c.lastError} = ?`)
      params.push(`edited by msgops outbox edit at ${editedAt.toISOString()}${now!.lastError ? `; before: ${now!.lastError}` : ''}`.slice(0, 1000))
    }
    const raw = locked![names.status]
    const done = await tx.execute(`UPDATE ${t} SET ${sets.join(', ')} WHERE ${c.id} = ? AND ${c.status} = ?`, [...params, shown.id, raw])
    if (done.affectedRows !== 1) throw new UsageError(`outbox row ${shown.id} changed while it was being written; nothing was changed`, 'run msgops outbox edit again')
    return {
      id: shown.id, unchanged: false, cancelled: false, previousStatus: now!.status, attempts: now!.attempts,
      before: {payload: shown.payload, headers: shown.headers}, after: next,
    }
  })
}
