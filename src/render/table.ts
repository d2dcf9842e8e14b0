import type TableModule from 'cli-table3'
import {createRequire} from 'node:module'

// Loaded with the first table: --json output never draws one.
let Table: typeof TableModule | undefined

import {colorEnabled, paint} from './color.js'

export interface TableOptions {
  /** Maximum width of each column in characters; longer cells are cut with an ellipsis. */
  maxWidths?: (number | undefined)[]
}

/** A bordered table for a terminal; plain text, no colour codes, when output is piped. */
export function renderTable(head: string[], rows: (string | number | null | undefined)[][], options: TableOptions = {}): string {
  const color = colorEnabled()
  Table ??= createRequire(import.meta.url)('cli-table3') as typeof TableModule
  const table = new Table({
    head: head.map((h) => paint('bold', h, color)),
    style: {head: [], border: color ? ['grey'] : []},
    wordWrap: false,
    chars: {mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': ''},
  })
  for (const row of rows) table.push(row.map((cell, i) => cut(cell == null ? '' : String(cell), options.maxWidths?.[i])))
  return table.toString()
}

export function cut(text: string, max?: number): string {
  const flat = text.replaceAll(/\s+/g, ' ')
  if (!max || flat.length <= max) return flat
  return `${flat.slice(0, Math.max(1, max - 1))}…`
}

/** Columns available for a table on this terminal; a generous default when piped. */
export function terminalWidth(): number {
  return process.stdout.columns && process.stdout.columns > 40 ? process.stdout.columns : 160
}
