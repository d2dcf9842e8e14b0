import {defineConfig} from 'vitest/config'

/**
 * Fault-injection tests (test/reliability): real processes killed, connections cut, the broker blocked.
 * Two files at a time: most of a file's time is spent waiting for servers to boot, for a lock to expire or for a
 * killed process to be seen, so two share the 2 cores without slowing each other (767 s one at a time on this
 * machine). Each file has its own database, vhost, Redis prefix and servers on its own ports. The memory-alarm test
 * blocks every publisher on the shared broker, so it runs after the others, alone.
 */
const ALONE = ['test/reliability/memory-alarm.test.ts']
// The projects do not extend the root: with extends, each would run the root's globalSetup again.
const EACH = {disableConsoleIntercept: true, testTimeout: 300_000, hookTimeout: 120_000}

export default defineConfig({
  test: {
    // The same check of the services as the integration tests (vitest.config.ts), once, whichever files run.
    globalSetup: ['./test/helpers/global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    ...EACH,
    projects: [
      {test: {...EACH, name: 'reliability', include: ['test/reliability/**/*.test.ts'], exclude: ALONE, fileParallelism: true, maxWorkers: 2, sequence: {groupOrder: 0}}},
      {test: {...EACH, name: 'reliability-alone', include: ALONE, fileParallelism: false, maxWorkers: 1, sequence: {groupOrder: 1}}},
    ],
  },
})
