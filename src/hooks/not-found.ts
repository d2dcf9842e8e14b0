import type {Hook} from '@oclif/core'

import {EXIT} from '../core/errors.js'
import {suggestCommand} from '../core/suggest.js'

/**
 * An unknown command: one line naming it and the nearest command with the same arguments, exit 2, like every
 * other usage error. It never runs the guess: a typo must not start a state-changing command.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const words = [...options.id.split(':'), ...(options.argv ?? [])]
  const hidden = new Set(options.config.commands.filter((c) => c.hidden).map((c) => c.id))
  const ids = [...options.config.commandIDs].filter((id) => !hidden.has(id))
  const bin = options.config.bin
  const guess = suggestCommand(words, ids)
  const typed = words.join(' ')
  const hint = guess ? `did you mean "${[bin, guess.command, ...guess.args].join(' ')}"?` : `run "${bin} help" for the list of commands`
  const message = `"${bin} ${typed}" is not a ${bin} command`
  if (words.includes('--json'))
    process.stdout.write(`${JSON.stringify({error: {kind: 'usage', message, suggestion: hint, exitCode: EXIT.error}}, null, 2)}\n`)
  process.stderr.write(`Error: ${message}; ${hint}\n`)
  this.exit(EXIT.error)
}

export default hook
