import {defineConfig} from 'vitest/config'

/**
 * Fault-injection tests (test/reliability): real processes killed, connections cut, the broker blocked.
 * One file at a time: the memory-alarm test blocks every publisher on the broker, and the others measure
 * behaviour under load that a neighbour would distort.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    // The same check of the services as the integration tests (vitest.config.ts).
    globalSetup: ['./test/helpers/global-setup.ts'],
    disableConsoleIntercept: true,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
})
