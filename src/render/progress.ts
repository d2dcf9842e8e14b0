import type cliProgressModule from 'cli-progress'
import {createRequire} from 'node:module'

import {formatDuration} from '../core/duration.js'
import type {ProgressCallback} from '../core/ports.js'

// Loaded only when a bar is drawn: cron runs and --json never pay for it.
const load = () => createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule

export interface ProgressBar {
  update: ProgressCallback
  stop(): void
}

/** The bar on screen now, if any: a notice printed meanwhile must not be drawn over. */
let active: {redraw(): void} | undefined

/**
 * A line for the person at the terminal (stderr), printed above a progress bar that is running:
 * the bar's line is cleared first and the bar is drawn again below the notice.
 */
export function notice(text: string): void {
  if (!active || process.stderr.isTTY !== true) {
    process.stderr.write(`${text}\n`)
    return
  }
  process.stderr.write(`\r\u001B[2K${text}\n`)
  active.redraw()
}

/** Time left at the run's average rate so far; unknown until something was done or when the total is unknown. */
export function etaText(done: number, total: number | undefined, elapsedMs: number): string {
  if (total === undefined || done <= 0 || elapsedMs <= 0) return '-'
  if (done >= total) return '0s'
  return formatDuration(((total - done) * elapsedMs) / done)
}

/** A progress bar on stderr when it is a terminal; nothing at all otherwise (cron, pipes, --json). */
export function progressBar(label: string, enabled: boolean): ProgressBar {
  if (!enabled || process.stderr.isTTY !== true) return {update: () => {}, stop: () => {}}
  const cliProgress = load()
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      // Our own ETA: cli-progress prints its NULL/INF placeholders cut to a few characters ("ETA LLs").
      format: `${label} [{bar}] {value}/{total} · {rate}/s · ETA {left}{note}`,
      hideCursor: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  )
  // Set at the first update, not here: a bar made before a prompt must not count the time spent answering it.
  let started = 0
  let begun = false
  const me = {
    redraw() {
      // cli-progress skips a frame equal to the last one drawn, but that one was just cleared.
      ;(bar as unknown as {lastDrawnString: string}).lastDrawnString = ''
      bar.render()
    },
  }
  return {
    update({done, total, note}) {
      if (!begun) started = Date.now()
      const elapsed = Date.now() - started
      const payload = {rate: Math.round(done / Math.max(0.001, elapsed / 1000)), left: etaText(done, total, elapsed), note: note ? ` · ${note}` : ''}
      if (!begun) {
        bar.start(total ?? done, done, payload)
        begun = true
        active = me
      } else {
        if (total !== undefined) bar.setTotal(total)
        bar.update(done, payload)
      }
    },
    stop() {
      if (begun) bar.stop()
      if (active === me) active = undefined
    },
  }
}
