#!/usr/bin/env node
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
// Every command closes its connections; this only guards against a socket a dead peer left half-open.
process.exit()
