import {execFileSync} from 'node:child_process'

export interface Terminal {
  /** What the terminal shows now, trailing spaces kept (a completed word is followed by one). */
  pane(): string
  /** tmux send-keys: text and key names (Enter, Tab); text starting with "-" is fine. */
  send(...keys: string[]): void
  /** Waits (at most 10 s) until the pane matches; fails with what it shows. */
  waitFor(what: RegExp): Promise<void>
  close(): void
}

const tmux = (...args: string[]) => execFileSync('tmux', args, {encoding: 'utf8'})

/** A real terminal (a detached tmux session, 160×40) running one shell command. */
export function openTerminal(name: string, command: string): Terminal {
  const session = `${name}-${process.pid}-${Date.now().toString(36)}`
  tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '40', command)
  const pane = () => tmux('capture-pane', '-p', '-N', '-t', session)
  return {
    pane,
    send: (...keys) => void tmux('send-keys', '-t', session, '--', ...keys),
    async waitFor(what) {
      for (let i = 0; i < 100 && !what.test(pane()); i++) await new Promise((resolve) => setTimeout(resolve, 100))
      if (!what.test(pane())) throw new Error(`the terminal never showed ${what}; it shows:\n${pane()}`)
    },
    close() {
      try {
        tmux('kill-session', '-t', session)
      } catch {}
    },
  }
}
