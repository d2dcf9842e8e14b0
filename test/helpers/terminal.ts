import {execFileSync} from 'node:child_process'

import {RUN_JS, uniqueName} from './env.js'

/** A real terminal for a test: a detached tmux session running one msgops command, read with capture-pane. */
export interface Terminal {
  name: string
  /** The screen as text, the whole scrollback (lines cut at the pane's width, as a person sees them). */
  screen(): string
  keys(...keys: string[]): void
  /** Waits until the screen matches, or throws with the screen in the message. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** The command's exit code, once it has ended (the shell prints it). */
  exitCode(timeoutMs?: number): Promise<number>
  resize(width: number, height: number): void
  close(): void
}

// A tmux server of this test process's own: the last session closing ends a server, and another starting meanwhile fails.
const SOCKET = `msgops-test-${process.pid}`
let keeper = false

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], {encoding: 'utf8'})
}

/** Ends this process's tmux server and every terminal in it (afterAll). */
export function closeTerminals(): void {
  try {
    tmux('kill-server')
  } catch {
    // no server
  }
  keeper = false
}

/** Text with its runs of white space as one space: a prompt wrapped by the terminal or by the prompt itself reads whole. */
export function collapse(text: string): string {
  return text.replaceAll(/\s+/g, ' ')
}

/** Starts `msgops ARGS` in a width × height tmux pane with the given environment (colour left to the terminal). */
export function openTerminal(args: string[], env: Record<string, string>, size = {width: 120, height: 40}): Terminal {
  if (!keeper) {
    tmux('new-session', '-d', '-s', 'keeper', 'sleep 3600')
    keeper = true
  }
  const name = uniqueName('msgops_tty')
  const exports = Object.entries({...env, TERM: 'xterm-256color'}).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')
  const command = `env -u NO_COLOR -u FORCE_COLOR ${exports} ${shellQuote(process.execPath)} ${shellQuote(RUN_JS)} ${args.map(shellQuote).join(' ')}; echo "[exit $?]"; sleep 600`
  tmux('new-session', '-d', '-s', name, '-x', String(size.width), '-y', String(size.height), 'bash', '--norc', '--noprofile', '-c', command)
  tmux('set-option', '-t', name, 'history-limit', '5000')
  const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-5000', '-t', name)
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const text = screen()
      if (pattern.test(text)) return text
      if (Date.now() > deadline) throw new Error(`the terminal never showed ${pattern}; it shows:\n${text}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    name,
    screen,
    keys: (...keys) => void tmux('send-keys', '-t', name, ...keys),
    waitFor,
    async exitCode(timeoutMs = 30_000) {
      const text = await waitFor(/\[exit \d+\]/, timeoutMs)
      return Number(/\[exit (\d+)\]/.exec(text)![1])
    },
    resize: (width, height) => void tmux('resize-window', '-t', name, '-x', String(width), '-y', String(height)),
    close: () => {
      try {
        tmux('kill-session', '-t', name)
      } catch {
        // already gone
      }
    },
  }
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}
