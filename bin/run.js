#!/usr/bin/env node
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
// Every command closes its connections; exiting here only guards against a socket that a dead peer left
// half-open, and only once stdout and stderr are written out in full (a slow reader may still be reading).
while (process.stdout.writableLength > 0 || process.stderr.writableLength > 0) await new Promise((resolve) => setTimeout(resolve, 10))
process.exit()
