import type cliProgressModule from 'cli-progress'
import {createRequire} from 'node:module'

import type {ProgressCallback} from '../core/ports.js'

// Loaded only when a bar is drawn: cron runs and --json never pay for it.
const load = () => createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule

export interface ProgressBar {
  update: ProgressCallback
  stop(): void
}

/** A progress bar on stderr when it is a terminal; nothing at all otherwise (cron, pipes, --json). */
export function progressBar(label: string, enabled: boolean): ProgressBar {
  if (!enabled || process.stderr.isTTY !== true) return {update: () => {}, stop: () => {}}
  const cliProgress = load()
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} · {rate}/s · ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  )
  const started = Date.now()
  let begun = false
  return {
    update({done, total}) {
      const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000))
      if (!begun) {
        bar.start(total ?? done, done, {rate})
        begun = true
      } else {
        if (total !== undefined) bar.setTotal(total)
        bar.update(done, {rate})
      }
    },
    stop() {
      if (begun) bar.stop()
    },
  }
}
