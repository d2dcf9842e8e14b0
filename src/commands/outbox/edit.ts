import {readFile} from 'node:fs/promises'

import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../base-command.js'
import {oneLine, UsageError} from '../../core/errors.js'
import {changeOutcome} from '../../core/outcome.js'
import {applyEdit, applySet, type EditableRow, type EditedContent, editorDocument, type EditResult, fromEditorDocument, parseJsonText, readEditable, sameContent} from '../../core/outbox/edit.js'
import {changeFlags} from '../../flags.js'
import {chosenEditor, editText} from '../../render/editor.js'
import {editQuestion, renderDiff, renderEdit} from '../../render/failures.js'

export default class OutboxEdit extends BaseCommand<typeof OutboxEdit> {
  static summary = 'Edit the payload of a pending or dead-letter outbox row and retry it.'
  static description = `Opens the payload (as {"payload", "headers"} when the table has a headers column) in $VISUAL or $EDITOR, or takes it from --payload-file FILE, --set-payload JSON or --set path=value (repeatable); checks that it is JSON, shows the diff and asks. Then, in one transaction, it locks the row, checks that it is still pending or dead-letter with the payload that was shown, writes the new payload, sets the row pending (attempts kept; a note in last_error) and commits; the audit record holds the old and the new payload.
A drain publishes a row only while holding its lock, so the old payload is never sent after the edit: a row the drain sent meanwhile is refused (it went out once, with the old payload), and a drain after the commit sends the new one, once. The message id (the row id) stays the same.
Exit 0 written, unchanged or declined, 2 a usage error (no such row, a sent row, JSON that does not parse, a row changed meanwhile), a configuration or connection error.`

  static examples = [
    '<%= config.bin %> <%= command.id %> 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c',
    '<%= config.bin %> <%= command.id %> 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c --set customer.email=a@example.com --set total=42.5 --yes',
    '<%= config.bin %> <%= command.id %> 0b6f3a1e-8c1d-4f2b-9a53-1d2e3f4a5b6c --payload-file fixed.json --yes --json',
  ]

  static args = {id: Args.string({description: 'the row id (the message id)', required: true})}

  static flags = {
    'dry-run': changeFlags['dry-run'],
    yes: changeFlags.yes,
    'payload-file': Flags.string({description: 'take the new payload (JSON) from this file instead of an editor', exclusive: ['set-payload', 'set']}),
    'set-payload': Flags.string({description: 'the new payload as JSON text', exclusive: ['payload-file', 'set']}),
    set: Flags.string({description: 'set one field of the payload, as path=value (value as JSON, else text); repeatable', multiple: true, exclusive: ['payload-file', 'set-payload']}),
  }

  async run(): Promise<EditResult> {
    const f = this.flags
    const sql = await this.services.mysql()
    return this.change({
      needs: 'outbox edit',
      yes: f.yes, dryRun: f['dry-run'],
      work: async (ctx) => {
        const {table, row} = await readEditable(sql, this.settings, this.args.id)
        const next = await this.newContent(row)
        const result: EditResult = {id: row.id, unchanged: sameContent(row, next), cancelled: false, previousStatus: row.status, attempts: row.attempts, before: {payload: row.payload, headers: row.headers}, after: next}
        if (result.unchanged) return result
        ctx.show(() => renderDiff(editorDocument(row), editorDocument({...row, ...next})))
        if (f['dry-run']) return result
        if (!(await ctx.confirm(editQuestion(row, ctx.target)))) return {...result, cancelled: true}
        return applyEdit(sql, table, row, next, new Date())
      },
      outcome: (r) => changeOutcome(r, false),
      render: (r) => (f['dry-run'] && !r.unchanged ? 'dry run: nothing was written' : renderEdit(r)),
      audit: (r) => (r.unchanged ? {id: r.id, unchanged: true} : {id: r.id, previousStatus: r.previousStatus, attempts: r.attempts, before: r.before, after: r.after}),
    })
  }

  /** The new content from the one source given: a file, JSON text, --set assignments, or the editor. */
  private async newContent(row: EditableRow): Promise<EditedContent> {
    const f = this.flags
    if (f['payload-file'] !== undefined) {
      const text = await readFile(f['payload-file'], 'utf8').catch((error: Error) => {
        throw new UsageError(`cannot read --payload-file ${f['payload-file']}: ${oneLine(error.message)}`, 'check the path')
      })
      return {payload: parseJsonText(text, `--payload-file ${f['payload-file']}`), headers: row.headers}
    }
    if (f['set-payload'] !== undefined) return {payload: parseJsonText(f['set-payload'], '--set-payload'), headers: row.headers}
    if (f.set) return {payload: f.set.reduce((payload, assignment) => applySet(payload, assignment), row.payload), headers: row.headers}
    return fromEditorDocument(row, await editText(editorDocument(row), `outbox-${row.id.replaceAll(/[^\w.-]/g, '_')}.json`, chosenEditor()))
  }
}
