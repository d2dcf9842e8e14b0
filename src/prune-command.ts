import type {Command} from '@oclif/core'

import {replicaUrls} from './config/schema.js'
import {BaseCommand} from './base-command.js'
import {MysqlAdapter} from './adapters/mysql.js'
import {JsonLinesArchive, type RowArchive} from './core/prune/archive.js'
import {ServerLoad} from './core/prune/load.js'
import {cancelledResult, planPrune, type PruneRequest, type PruneResult, runPrune} from './core/prune/plan.js'
import {changeOutcome} from './core/outcome.js'
import {pruneQuestion, renderPrune} from './render/prune.js'

interface PruneFlags {
  archive?: string
  yes: boolean
  'dry-run': boolean
  'wait-lock'?: string
}

/** What outbox prune and inbox prune share: replicas watched, the plan (a count) before the question, the archive opened before it. */
export abstract class PruneCommand<T extends typeof Command> extends BaseCommand<T> {
  static graceful = 'the chunk in hand'

  protected async prune(lock: string, request: PruneRequest, f: PruneFlags): Promise<PruneResult> {
    const sql = await this.services.mysql()
    const replicas = await Promise.all(replicaUrls(this.settings).map(async (url) => {
      const {hostname, port} = new URL(url)
      return {name: `${hostname}:${port || 3306}`, sql: await MysqlAdapter.connect(url, this.services.timeoutMs, 1)}
    }))
    let archive: RowArchive | undefined
    try {
      const load = new ServerLoad(sql, replicas)
      await load.check()
      return await this.change({
        yes: f.yes, dryRun: f['dry-run'], lock: f['dry-run'] ? undefined : {name: lock, wait: f['wait-lock']},
        progress: f['dry-run'] ? undefined : 'prune',
        work: async (ctx) => {
          const plan = await planPrune(sql, request)
          for (const warning of plan.warnings) this.note(`warning: ${warning}`)
          // Opened before the question: an unwritable path is refused before anything is deleted.
          if (f.archive && !f['dry-run']) archive = await JsonLinesArchive.open(f.archive)
          if (!(await ctx.confirm(pruneQuestion(plan, f.archive, ctx.target)))) return cancelledResult(plan)
          const onPause = (reason: string | null) => reason && this.note(`paused: ${reason}`)
          return runPrune(plan, {sql, load, archive, signal: ctx.signal, onPause}, ctx.progress)
        },
        outcome: (r) => changeOutcome(r.mode === 'rows' ? r : {}, r.mode === 'partitions' && r.refused > 0),
        render: renderPrune,
        audit: (r) => (r.mode === 'rows'
          ? {mode: r.mode, table: r.table, what: r.what, deleted: r.deleted, archived: r.archived, archive: r.archive, kept: r.kept, chunks: r.chunks, stoppedBy: r.stoppedBy, pauses: r.pauses}
          : {mode: r.mode, table: r.table, dropped: r.dropped, droppedRows: r.droppedRows, refused: r.refused, added: r.added}),
        auditError: () => ({archive: f.archive}),
      })
    } finally {
      await archive?.close()
      await Promise.all(replicas.map((r) => r.sql.close()))
    }
  }
}
