import {readdirSync, readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {ERROR_FILE, OUTPUT_SCHEMAS, renderJsonSchemas, schemaFileName} from '../../src/render/json/index.js'

const DOCS = fileURLToPath(new URL('../../docs/json/', import.meta.url))
const MANIFEST_IDS = Object.keys(JSON.parse(readFileSync(fileURLToPath(new URL('../../oclif.manifest.json', import.meta.url)), 'utf8')).commands as object)

/** Every object node of a JSON Schema that lists its properties, with its path. */
function objectsWithProperties(node: unknown, path = '$'): {path: string; node: Record<string, unknown>}[] {
  if (node === null || typeof node !== 'object') return []
  const children = Object.entries(node).flatMap(([k, v]) => objectsWithProperties(v, `${path}.${k}`))
  const n = node as Record<string, unknown>
  return n.type === 'object' && n.properties !== undefined ? [{path, node: n}, ...children] : children
}

describe('the --json schemas (src/render/json) and docs/json', () => {
  const rendered = renderJsonSchemas()

  it('docs/json holds exactly what the schemas render (npm run build regenerates it)', () => {
    expect(readdirSync(DOCS).sort()).toEqual(Object.keys(rendered).sort())
    for (const [name, text] of Object.entries(rendered)) expect(readFileSync(`${DOCS}${name}`, 'utf8'), `docs/json/${name} is stale: run npm run build`).toBe(text)
  })

  it('has one file per command, the error file and a README that links each', () => {
    for (const id of Object.keys(OUTPUT_SCHEMAS)) {
      expect(rendered[schemaFileName(id)]).toBeDefined()
      expect(rendered['README.md']).toContain(`](${schemaFileName(id)})`)
    }
    expect(rendered['README.md']).toContain(`](${ERROR_FILE})`)
    expect(schemaFileName('outbox:drain')).toBe('outbox-drain.schema.json')
  })

  it('registers schemas only for commands that exist', () => {
    expect(Object.keys(OUTPUT_SCHEMAS).filter((id) => !MANIFEST_IDS.includes(id))).toEqual([])
  })

  it('closes every object whose fields are known, so a field added to an output without its schema fails validation', () => {
    for (const [name, text] of Object.entries(rendered)) {
      if (!name.endsWith('.json')) continue
      const open = objectsWithProperties(JSON.parse(text)).filter((o) => o.node.additionalProperties !== false)
      expect(open.map((o) => `${name} ${o.path}`)).toEqual([])
    }
  })

  it('a closed schema refuses an output with a field it does not describe', () => {
    const base = {records: [], next: '7'}
    expect(OUTPUT_SCHEMAS.audit.safeParse(base).success).toBe(true)
    expect(OUTPUT_SCHEMAS.audit.safeParse({...base, surprise: 1}).success).toBe(false)
  })
})
