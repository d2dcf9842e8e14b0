import type {Source} from '../config/load.js'
import {maskSecrets} from '../core/mask.js'
import {paint} from './color.js'
import {renderTable} from './table.js'

export interface ConfigEntry {
  key: string
  value: unknown
  source: Source
}

export function renderConfig(entries: ConfigEntry[], file?: string, profile?: string): string {
  const header = `${paint('dim', 'file:')} ${file ?? '(none: defaults, environment and flags only)'}${profile ? `  ${paint('dim', 'profile:')} ${profile}` : ''}`
  const rows = entries.map((e) => [e.key, showValue(e.value), e.source === 'default' ? paint('dim', e.source) : paint('cyan', e.source)])
  return `${header}\n${renderTable(['key', 'value', 'source'], rows)}`
}

function showValue(value: unknown): string {
  if (value === null || (Array.isArray(value) && value.length === 0)) return paint('dim', '(none)')
  return maskSecrets(Array.isArray(value) ? value.join(', ') : String(value))
}
