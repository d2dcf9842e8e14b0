/**
 * Loads the build's CommonJS bundle of the drivers and libraries (dist/vendor-HASH.cjs: mysql2, ioredis, amqplib, zod,
 * yaml) with a V8 code cache kept in the user's cache directory. Node 20 would compile that 1.6 MB again on every run
 * (~70 ms of a 300 ms `msgops trace`); with the cache V8 only deserialises it. Node ≥ 22.1 caches every module itself
 * (bin/run.js calls module.enableCompileCache), so there the bundle is simply required.
 *
 * | situation                                                          | what happens                                   |
 * | ------------------------------------------------------------------ | ---------------------------------------------- |
 * | MSGOPS_COMPILE_CACHE=0, Node ≥ 22.1, or vm lacks the main loader   | plain require()                                |
 * | no cache directory (no HOME, no XDG_CACHE_HOME, no MSGOPS_CACHE_DIR)| plain require()                               |
 * | cache file absent, unreadable or rejected by V8 (other V8, flags)  | compiled from source; cache written at exit    |
 * | cache file accepted                                                | deserialised; nothing written                  |
 * | cache cannot be written (read-only home, full disk)                | ignored: the next run compiles again           |
 * | other builds' cache files, untouched for 24 h                      | removed when a new cache is written            |
 *
 * The cache's name carries the bundle's content hash (esbuild's [hash] in the file name), Node's version and the
 * architecture: V8 itself checks only the source's length, so a rebuilt bundle must never meet an old cache.
 */
import {mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {createRequire, Module} from 'node:module'
import {homedir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

type Exports = Record<string, () => unknown>

const loaded = new Map<string, Exports>()

/** Where the code cache lives: MSGOPS_CACHE_DIR, else $XDG_CACHE_HOME/msgops, else ~/.cache/msgops. */
export function cacheDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MSGOPS_CACHE_DIR) return env.MSGOPS_CACHE_DIR
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'msgops')
  let home: string
  try {
    home = homedir()
  } catch {
    return undefined
  }
  return home ? join(home, '.cache', 'msgops') : undefined
}

/** The bundle next to the calling chunk: every output file lives under the package's dist/. */
export function vendorFile(fromUrl: string, name: string): string {
  const path = fileURLToPath(fromUrl)
  const match = [...path.matchAll(/[\\/]dist[\\/]/g)].at(-1)
  if (match?.index === undefined) throw new Error(`msgops: ${path} is not under a dist/ directory; rebuild with npm run build`)
  return join(path.slice(0, match.index), 'dist', name)
}

/** The bundle's exports (one loader function per library), loaded once per process. */
export function loadVendor(fromUrl: string, name: string): Exports {
  const file = vendorFile(fromUrl, name)
  let exports = loaded.get(file)
  if (!exports) {
    exports = loadCommonJs(file, process.env) as Exports
    loaded.set(file, exports)
  }
  return exports
}

// Node ≥ 20.12: import() inside the cached script then works as in any module (older ones: plain require()).
const mainContextLoader: unknown = (vm as unknown as {constants?: {USE_MAIN_CONTEXT_DEFAULT_LOADER?: unknown}}).constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER

/** require(file), through a V8 code cache where this Node can use one (see the table above). */
export function loadCommonJs(file: string, env: NodeJS.ProcessEnv): unknown {
  const require = createRequire(file)
  const directory = cacheDirectory(env)
  const nodeCaches = typeof (Module as {enableCompileCache?: unknown}).enableCompileCache === 'function'
  if (env.MSGOPS_COMPILE_CACHE === '0' || nodeCaches || mainContextLoader === undefined || directory === undefined) return require(file)
  const cacheFile = join(directory, `${basename(file)}-${process.version}-${process.arch}.v8`)
  let cachedData: Buffer | undefined
  try {
    cachedData = readFileSync(cacheFile)
  } catch {
    cachedData = undefined
  }
  const source = readFileSync(file, 'utf8')
  const script = new vm.Script(Module.wrap(source), {filename: file, cachedData, importModuleDynamically: mainContextLoader as never})
  const module = {exports: {} as unknown, filename: file, id: file, loaded: false}
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void
  wrapper.call(module.exports, module.exports, require, module, file, dirname(file))
  module.loaded = true
  // Written at exit, so that it holds the functions the run compiled too, not only the bundle's top level.
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => writeCache(cacheFile, () => script.createCachedData()))
  return module.exports
}

function writeCache(cacheFile: string, data: () => Buffer): void {
  const temporary = `${cacheFile}.${process.pid}.tmp`
  try {
    mkdirSync(dirname(cacheFile), {recursive: true})
    writeFileSync(temporary, data())
    renameSync(temporary, cacheFile) // atomic: a concurrent run reads the old file or the new one, never half of one
    removeStale(dirname(cacheFile), basename(cacheFile))
  } catch {
    // A read-only home or a full disk only costs the next run its compile.
    try {
      unlinkSync(temporary)
    } catch {}
  }
}

const STALE_MS = 24 * 3600 * 1000

/** Every build has its own cache file: those of other builds unused for a day go, so the directory stays small. */
function removeStale(directory: string, keep: string): void {
  for (const name of readdirSync(directory)) {
    if (name === keep || !/^vendor-[0-9a-f]+\.cjs-.*\.v8$/.test(name)) continue
    const file = join(directory, name)
    try {
      if (Date.now() - statSync(file).mtimeMs > STALE_MS) unlinkSync(file)
    } catch {}
  }
}
