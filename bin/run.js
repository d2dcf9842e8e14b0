#!/usr/bin/env node
import module from 'node:module'
import {setFlagsFromString} from 'node:v8'

// Node >= 22.1 keeps every module's compiled code between runs (on Node 20, src/compile-cache.ts does it for the
// vendored libraries): imported before oclif, so that oclif's own modules are cached too.
if (process.env.MSGOPS_COMPILE_CACHE !== '0') module.enableCompileCache?.()
// oclif checks package.json's engines with semver, whose 47 files cost every run ~25 ms of a 300 ms start: the same
// check here, on the one form the range takes (">=MAJOR"), and oclif's turned off for this import only.
const engines = module.createRequire(import.meta.url)('../package.json').engines.node
if (Number(process.versions.node.split('.')[0]) < Number(/^>=(\d+)$/.exec(engines)?.[1] ?? 0)) process.emitWarning(`Node version must be ${engines} to use this CLI. Current node version: ${process.versions.node}`)
// A built CLI never runs its TypeScript source: without this, under NODE_ENV=development or test (a developer's shell,
// a test runner) oclif loads the TypeScript compiler to read tsconfig.json and registers tsx, every run: 0.55 → 1.1 s CPU.
globalThis.oclif = {...globalThis.oclif, enableAutoTranspile: false}
const ownEngineWarning = process.env.OCLIF_DISABLE_ENGINE_WARNING === undefined
if (ownEngineWarning) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const {execute} = await import('@oclif/core')
if (ownEngineWarning) delete process.env.OCLIF_DISABLE_ENGINE_WARNING

// Scans of millions of rows make garbage fast and keep little (~25 MB live): let the heap double, not grow up to
// fourfold, before a full collection (reconcile over 1,000,000 orders: peak RSS 150 MB instead of 210 MB, same time).
setFlagsFromString('--heap-growing-percent=100')

await execute({dir: import.meta.url})
// Every command closes its connections; exiting here only guards against a socket that a dead peer left
// half-open, and only once stdout and stderr are written out in full (a slow reader may still be reading).
while (process.stdout.writableLength > 0 || process.stderr.writableLength > 0) await new Promise((resolve) => setTimeout(resolve, 10))
process.exit()
