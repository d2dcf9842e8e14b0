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
  const rows = entries.map((e) => [e.key, e.value === null ? paint('dim', '(none)') : maskSecrets(String(e.value)), e.source === 'default' ? paint('dim', e.source) : paint('cyan', e.source)])
  return `${header}\n${renderTable(['key', 'value', 'source'], rows)}`
}
