#!/usr/bin/env node
import module from 'node:module'
import {setFlagsFromString} from 'node:v8'

// Node >= 22.1 keeps every module's compiled code between runs (on Node 20, src/compile-cache.ts does it for the
// vendored libraries): imported before oclif, so that oclif's own modules are cached too.
if (process.env.MSGOPS_COMPILE_CACHE !== '0') module.enableCompileCache?.()
const {execute} = await import('@oclif/core')

// Scans of millions of rows make garbage fast and keep little (~25 MB live): let the heap double, not grow up to
// fourfold, before a full collection (reconcile over 1,000,000 orders: peak RSS 150 MB instead of 210 MB, same time).
setFlagsFromString('--heap-growing-percent=100')

await execute({dir: import.meta.url})
// Every command closes its connections; exiting here only guards against a socket that a dead peer left
// half-open, and only once stdout and stderr are written out in full (a slow reader may still be reading).
while (process.stdout.writableLength > 0 || process.stderr.writableLength > 0) await new Promise((resolve) => setTimeout(resolve, 10))
process.exit()
