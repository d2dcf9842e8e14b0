// Writes docs/json/: each command's --json output schema (and the error's) rendered from the zod schemas of
// src/render/json, as built in dist. Run by `npm run build`; test/unit/json-schemas.test.ts checks the committed files.
import {mkdirSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {renderJsonSchemas} from '../dist/render/json/index.js'

const dir = 'docs/json'
const files = renderJsonSchemas()
mkdirSync(dir, {recursive: true})
// A schema whose command is gone must not stay behind as if it were still the contract.
for (const name of readdirSync(dir)) if (!(name in files)) rmSync(join(dir, name))
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
