import {spawn} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {UsageError} from '../core/errors.js'

/** The person's editor ($VISUAL, else $EDITOR), or a usage error saying how to pass the content instead. */
export function chosenEditor(env: NodeJS.ProcessEnv = process.env, alternative = '--payload-file FILE'): string {
  const editor = env.VISUAL?.trim() || env.EDITOR?.trim()
  if (!editor) throw new UsageError('no editor: neither $VISUAL nor $EDITOR is set', `set one (export EDITOR=vi), or pass ${alternative}`)
  return editor
}

/**
 * Opens text in the editor on a private temporary file and returns what was saved. The editor runs through the shell,
 * so EDITOR="code --wait" works; it has the terminal (stdio inherited) until it exits.
 */
export async function editText(text: string, name: string, editor: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'msgops-edit-'))
  const file = join(dir, name)
  try {
    await writeFile(file, text, {mode: 0o600})
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('sh', ['-c', `${editor} "$1"`, 'msgops-editor', file], {stdio: 'inherit'})
      child.on('error', reject)
      child.on('exit', (c) => resolve(c))
    })
    if (code !== 0) throw new UsageError(`the editor (${editor}) exited with ${code ?? 'a signal'}`, 'nothing was changed; save and quit normally to go on')
    return await readFile(file, 'utf8')
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
