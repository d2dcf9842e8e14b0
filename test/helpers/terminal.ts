import {execFileSync} from 'node:child_process'
import {rmSync} from 'node:fs'

import {RUN_JS, uniqueName} from './env.js'

/** A real terminal for a test: a detached tmux session, read with capture-pane, typed into with send-keys. */
export interface Terminal {
  name: string
  /** The screen as text, the whole scrollback (wrapped lines joined), trailing spaces kept. */
  screen(): string
  /** tmux send-keys: text and key names (Enter, Tab, C-c); text starting with "-" is fine. */
  keys(...keys: string[]): void
  /** Waits until the screen matches, or throws with the screen in the message. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>
  /** The exit code of an msgops command opened by openTerminal, once it has ended (the shell prints it). */
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

/** Ends this process's tmux server and every terminal in it, and removes its socket file (afterAll). */
export function closeTerminals(): void {
  let path: string | undefined
  try {
    path = tmux('display-message', '-p', '#{socket_path}').trim()
    tmux('kill-server')
  } catch {
    // no server
  }
  if (path) rmSync(path, {force: true})
  keeper = false
}

/** Text with its runs of white space as one space: a prompt wrapped by the terminal or by the prompt itself reads whole. */
export function collapse(text: string): string {
  return text.replaceAll(/\s+/g, ' ')
}

export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}

/** Runs a shell command line in a width × height terminal. */
export function openShell(command: string, size = {width: 120, height: 40}): Terminal {
  if (!keeper) {
    tmux('new-session', '-d', '-s', 'keeper', 'sleep 3600')
    keeper = true
  }
  const name = uniqueName('msgops_tty')
  tmux('new-session', '-d', '-s', name, '-x', String(size.width), '-y', String(size.height), command)
  tmux('set-option', '-t', name, 'history-limit', '5000')
  const screen = () => tmux('capture-pane', '-p', '-J', '-N', '-S', '-5000', '-t', name)
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
    keys: (...keys) => void tmux('send-keys', '-t', name, '--', ...keys),
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

/**
 * Starts `msgops ARGS` in a terminal with only the given environment (and PATH, HOME), from /tmp, colour left to the
 * terminal; the exit code is printed when it ends.
 */
export function openTerminal(args: string[], env: Record<string, string>, size?: {width: number; height: number}): Terminal {
  const vars = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', XDG_CONFIG_HOME: '/nonexistent-msgops-test', TERM: 'xterm-256color', ...env}
  const exports = Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`).join(' ')
  const command = `cd /tmp && env -i ${exports} ${shellQuote(process.execPath)} ${shellQuote(RUN_JS)} ${args.map(shellQuote).join(' ')}; echo "[exit $?]"; sleep 600`
  return openShell(command, size)
}
