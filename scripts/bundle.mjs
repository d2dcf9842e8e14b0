// Bundles each command with the modules it imports (ours and the drivers'), shared code in dist/chunks: a command
// then loads a few files instead of hundreds (reconcile starts ~75 ms sooner). oclif itself stays external, so that
// bin/run.js and the commands share one copy of it.
import {build} from 'esbuild'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

const commands = (dir) => readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? commands(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []))

await build({
  entryPoints: commands('dist/commands'),
  outdir: 'dist/commands',
  outbase: 'dist/commands',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  chunkNames: '../chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['@oclif/core'],
  // The drivers are CommonJS: their require() of Node's modules needs a require in an ES module.
  banner: {js: "import {createRequire as __msgopsCreateRequire} from 'node:module'; const require = __msgopsCreateRequire(import.meta.url);"},
  logLevel: 'warning',
})
