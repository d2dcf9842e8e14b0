import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    disableConsoleIntercept: true,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests share three real services on a 2-core machine.
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      {extends: true, test: {name: 'unit', include: ['test/unit/**/*.test.ts']}},
      // The services are checked (and a local broker's management plugin enabled) only when integration files run.
      {extends: true, test: {name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['./test/helpers/global-setup.ts']}},
    ],
  },
})
