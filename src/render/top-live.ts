import {emitKeypressEvents} from 'node:readline'

import {createLogUpdate} from 'log-update'

import type {Judgement} from '../core/snapshot/judge.js'
import type {Snapshot} from '../core/snapshot/model.js'
import {sleep} from '../core/time.js'
import {colorEnabled} from './color.js'
import {type History, type Panel, record, renderTop, type TopView} from './top.js'

export interface LiveOptions {
  intervalMs: number
  take(): Promise<Snapshot>
  judge(snapshot: Snapshot): Judgement
  /** Aborted on SIGINT, SIGTERM, SIGHUP: the screen is restored and the view ends. */
  signal: AbortSignal
  stdout?: NodeJS.WriteStream
  stdin?: NodeJS.ReadStream
}

/** How the live view ended: q, Ctrl-C (typed in raw mode, so no SIGINT comes), or a signal. */
export type LiveEnd = 'quit' | 'ctrl-c' | 'signal'

const ALT_SCREEN_ON = '\u001B[?1049h\u001B[H'
const ALT_SCREEN_OFF = '\u001B[?1049l'
const CLEAR = '\u001B[2J\u001B[H'

interface KeyState {
  paused: boolean
  help: boolean
  detail: boolean
  selected?: {panel: Panel; row: number}
}

/**
 * The key decisions of the live view, a pure function of the key and the rows each panel has.
 *
 * | key            | does                                                                   |
 * | -------------- | ---------------------------------------------------------------------- |
 * | q, Ctrl-C      | ends the view ('quit', 'ctrl-c')                                        |
 * | p              | pauses or resumes the refresh                                          |
 * | r              | refreshes now ('refresh')                                              |
 * | ?              | shows or hides the help                                                |
 * | Tab            | selects the next panel that has rows (failure groups, then queues)     |
 * | ↑ / ↓ (k / j)  | moves within the selected panel (selects the first panel if none)      |
 * | Enter          | shows or hides the detail of the selected row                          |
 * | Esc            | closes the help or the detail, else clears the selection               |
 * | anything else  | nothing                                                                |
 */
export function onKey(state: KeyState, key: {name?: string; ctrl?: boolean; sequence?: string}, rows: Record<Panel, number>): {state: KeyState; action?: 'quit' | 'ctrl-c' | 'refresh'} {
  const s = {...state}
  const panels = (['failures', 'queues'] as const).filter((p) => rows[p] > 0)
  if (key.ctrl && key.name === 'c') return {state: s, action: 'ctrl-c'}
  if (key.name === 'q') return {state: s, action: 'quit'}
  if (key.name === 'p') return {state: {...s, paused: !s.paused}}
  if (key.name === 'r') return {state: s, action: 'refresh'}
  if (key.sequence === '?') return {state: {...s, help: !s.help}}
  if (key.name === 'escape') return {state: s.help || s.detail ? {...s, help: false, detail: false} : {...s, selected: undefined}}
  if (key.name === 'tab') {
    if (panels.length === 0) return {state: s}
    const next = s.selected ? panels[(panels.indexOf(s.selected.panel as (typeof panels)[number]) + 1) % panels.length] : panels[0]
    return {state: {...s, detail: false, selected: {panel: next, row: 0}}}
  }
  if (key.name === 'up' || key.name === 'down' || key.name === 'k' || key.name === 'j') {
    if (!s.selected) return {state: panels.length > 0 ? {...s, selected: {panel: panels[0], row: 0}} : s}
    const count = rows[s.selected.panel]
    const step = key.name === 'up' || key.name === 'k' ? -1 : 1
    return {state: {...s, selected: {panel: s.selected.panel, row: Math.max(0, Math.min(count - 1, s.selected.row + step))}}}
  }
  if (key.name === 'return' || key.name === 'enter') return {state: s.selected ? {...s, detail: !s.detail, help: false} : s}
  return {state: s}
}

/**
 * The promise, or undefined as soon as the signal aborts. Its abort listener goes with the promise: one left per
 * refresh piled up on the view's stop signal (a MaxListenersExceededWarning on the screen after 11 refreshes).
 */
export async function unlessStopped<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => signal.addEventListener('abort', (onAbort = () => resolve(undefined)), {once: true}))])
  } finally {
    signal.removeEventListener('abort', onAbort!)
  }
}

/**
 * The full-screen live view: the alternate screen, a frame every interval drawn by log-update (only the lines that
 * changed are written), keys in raw mode, a full redraw on resize; the terminal is given back as it was whatever ends it.
 */
export async function runLive(options: LiveOptions): Promise<LiveEnd> {
  const stdout = options.stdout ?? process.stdout
  const stdin = options.stdin ?? process.stdin
  const update = createLogUpdate(stdout)
  const color = colorEnabled(stdout)
  let history: History = {backlog: [], oldestS: [], dlq: []}
  let state: KeyState = {paused: false, help: false, detail: false}
  let shown: {snapshot: Snapshot; judgement: Judgement} | undefined
  let end: LiveEnd | undefined
  let wake = new AbortController()
  const stop = new AbortController()
  const finish = (why: LiveEnd) => {
    end ??= why
    stop.abort()
    wake.abort()
  }
  const onAbort = () => finish('signal')
  options.signal.addEventListener('abort', onAbort, {once: true})
  if (options.signal.aborted) finish('signal')

  const rowsOf = (): Record<Panel, number> => ({failures: Math.min(5, shown?.snapshot.outbox.data?.failureGroups?.length ?? 0), queues: shown?.snapshot.broker.data?.queues.length ?? 0})
  const draw = () => {
    if (!shown || stop.signal.aborted) return
    const view: TopView = {...shown, ...state, history, width: stdout.columns ?? 80, height: Math.max(2, (stdout.rows ?? 24) - 1), intervalMs: options.intervalMs, live: true, color}
    if (view.selected && view.selected.row >= rowsOf()[view.selected.panel]) view.selected = undefined
    update(renderTop(view).join('\n'))
  }
  const onResize = () => {
    stdout.write(CLEAR)
    update.done()
    draw()
  }
  const onKeypress = (_: string, key: {name?: string; ctrl?: boolean; sequence?: string} | undefined) => {
    const result = onKey(state, key ?? {}, rowsOf())
    state = result.state
    if (result.action === 'quit' || result.action === 'ctrl-c') return finish(result.action === 'quit' ? 'quit' : 'ctrl-c')
    // r refreshes now; p wakes the wait too, so that a pause starts or ends at once.
    if (result.action === 'refresh' || key?.name === 'p') wake.abort()
    draw()
  }

  const raw = stdin.isTTY === true
  stdout.write(ALT_SCREEN_ON)
  stdout.on('resize', onResize)
  if (raw) {
    emitKeypressEvents(stdin)
    stdin.setRawMode(true)
    stdin.on('keypress', onKeypress)
    stdin.resume()
  }
  try {
    while (!stop.signal.aborted) {
      const started = Date.now()
      if (!state.paused || !shown) {
        // q during a slow read ends the view at once; the read is left to its own timeout.
        const snapshot = await unlessStopped(options.take(), stop.signal)
        if (!snapshot || stop.signal.aborted) break
        history = record(history, snapshot)
        shown = {snapshot, judgement: options.judge(snapshot)}
        draw()
      }
      wake = new AbortController()
      const waitFor = state.paused ? 3_600_000 : Math.max(0, started + options.intervalMs - Date.now())
      await sleep(waitFor, AbortSignal.any([wake.signal, stop.signal]))
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort)
    stdout.removeListener('resize', onResize)
    if (raw) {
      stdin.removeListener('keypress', onKeypress)
      stdin.setRawMode(false)
      stdin.pause()
    }
    update.done()
    stdout.write(ALT_SCREEN_OFF)
  }
  return end ?? 'signal'
}
