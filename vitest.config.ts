import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    disableConsoleIntercept: true,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests share three real services on a 2-core machine.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
