import type TableModule from 'cli-table3'
import {createRequire} from 'node:module'

// Loaded with the first table: --json output never draws one.
let Table: typeof TableModule | undefined

import {colorEnabled, paint} from './color.js'

export interface TableOptions {
  /** Maximum width of each column in characters; longer cells are cut with an ellipsis. */
  maxWidths?: (number | undefined)[]
  /** Columns that give up width when the table is wider than the terminal, cut with an ellipsis (samples, errors). */
  shrink?: number[]
  /** Columns that give up width by wrapping onto more lines instead: their text is never cut (drift details). */
  wrap?: number[]
  /** Width to fit; the terminal's by default. */
  width?: number
}

/** The narrowest a shrinking column becomes before the table is allowed to overflow. */
const MIN_FLEX = 10

/** A bordered table for a terminal, fitted to its width; plain text, no colour codes, when output is piped. */
export function renderTable(head: string[], rows: (string | number | null | undefined)[][], options: TableOptions = {}): string {
  const color = colorEnabled()
  Table ??= createRequire(import.meta.url)('cli-table3') as typeof TableModule
  const cells = rows.map((row) => head.map((_, i) => cut(row[i] == null ? '' : String(row[i]), options.maxWidths?.[i])))
  const widths = fitColumns(
    head.map((h, i) => Math.max(visibleWidth(h), ...cells.map((row) => visibleWidth(row[i])))),
    [...(options.shrink ?? []), ...(options.wrap ?? [])],
    options.width ?? terminalWidth(),
  )
  const wrapped = new Set(options.wrap ?? [])
  const table = new Table({
    head: head.map((h) => paint('bold', h, color)),
    style: {head: [], border: color ? ['grey'] : []},
    wordWrap: false,
    chars: {mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': ''},
  })
  for (const row of cells) table.push(row.map((cell, i) => (wrapped.has(i) ? wrapText(cell, widths[i]) : cut(cell, widths[i]))))
  return table.toString()
}

/**
 * Column widths (content only) that fit `width` with borders and padding: the widest flexible column gives up
 * one character at a time, none below MIN_FLEX; the fixed columns (ids, counts) never shrink.
 */
export function fitColumns(natural: number[], flexible: number[], width: number): number[] {
  const widths = [...natural]
  const total = () => widths.reduce((sum, w) => sum + w + 3, 1)
  while (total() > width) {
    let widest = -1
    for (const i of flexible) if (widths[i] > MIN_FLEX && (widest < 0 || widths[i] > widths[widest])) widest = i
    if (widest < 0) break
    widths[widest]--
  }
  return widths
}

// SGR colour sequences, as paint() writes them.
const ANSI = /\u001B\[[\d;]*m/g

/** Characters a terminal shows for the text, colour codes not counted. */
export function visibleWidth(text: string): number {
  return [...text.replaceAll(ANSI, '')].length
}

/** Text on one line, at most max visible characters; a coloured cell that is cut keeps its first colour. */
export function cut(text: string, max?: number): string {
  const flat = text.replaceAll(/\s+/g, ' ')
  if (!max || visibleWidth(flat) <= max) return flat
  const plain = [...flat.replaceAll(ANSI, '')]
  const kept = `${plain.slice(0, Math.max(1, max - 1)).join('')}…`
  const open = /^\u001B\[[\d;]*m/.exec(flat)?.[0]
  return open ? `${open}${kept}\u001B[0m` : kept
}

/** Text wrapped at spaces (or mid-word when a word is longer than the line) into lines of at most max characters. */
export function wrapText(text: string, max: number): string {
  const words = text.replaceAll(ANSI, '').split(/\s+/).filter((w) => w !== '')
  const lines: string[] = []
  let line = ''
  for (let word of words) {
    while ([...word].length > max) {
      if (line !== '') lines.push(line)
      lines.push([...word].slice(0, max).join(''))
      word = [...word].slice(max).join('')
      line = ''
    }
    if (line === '') line = word
    else if ([...line].length + 1 + [...word].length <= max) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line)
  return lines.join('\n')
}

/** Columns available for a table: the terminal's, else $COLUMNS, else a generous default when piped. */
export function terminalWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns > 0) return Math.max(40, process.stdout.columns)
  const columns = Number(process.env.COLUMNS)
  return Number.isInteger(columns) && columns >= 40 ? columns : 160
}
