import {Args, Flags} from '@oclif/core'

import {openTopologyBroker} from '../../adapters/topology.js'
import {BaseCommand} from '../../base-command.js'
import {EXIT} from '../../core/errors.js'
import {applyTopology, type TopologyReport} from '../../core/topology/apply.js'
import {loadTopologyFile} from '../../core/topology/model.js'
import {vhostOfAmqpUrl} from '../../core/amqp-url.js'
import {progressBar} from '../../render/progress.js'
import {renderTopologyReport, topologyNotes} from '../../render/topology.js'

const AUDIT_NAMES = 100

function names(items: {kind: string; name: string}[]): string[] {
  const shown = items.slice(0, AUDIT_NAMES).map((i) => `${i.kind} ${i.name}`)
  return items.length > AUDIT_NAMES ? [...shown, `… and ${items.length - AUDIT_NAMES} more`] : shown
}

export default class TopologyApply extends BaseCommand<typeof TopologyApply> {
  static summary = 'Declare the exchanges, queues and bindings of a file that the broker does not have yet.'
  static description = `Creates what is missing and changes nothing that exists: RabbitMQ cannot change a queue's or exchange's arguments in place, so a drifted object is reported and left alone. Running it twice creates nothing the second time.
Creating is additive and idempotent, so it needs no confirmation (CI runs it as is). --recreate-drifted deletes and re-declares drifted classic queues that hold no message (the broker refuses to delete one with messages; quorum queues and streams are never deleted), and asks first: pass --yes where there is no terminal.
Exit 0 when the broker matches the file afterwards, 1 when drift remains, 2 on error. Writes an audit record.`

  static examples = [
    '<%= config.bin %> <%= command.id %> examples/topology.yaml',
    '<%= config.bin %> <%= command.id %> topology.yaml --dry-run',
    '<%= config.bin %> <%= command.id %> topology.yaml --recreate-drifted --yes --json',
  ]

  static args = {
    file: Args.string({description: 'topology file: YAML (see docs/topology.md) or definitions JSON', required: true}),
  }

  static flags = {
    'dry-run': Flags.boolean({description: 'show the plan and change nothing (same as `topology plan`)'}),
    'recreate-drifted': Flags.boolean({description: 'delete and re-declare drifted classic queues that are empty, after confirmation'}),
    yes: Flags.boolean({char: 'y', description: 'confirm --recreate-drifted without asking'}),
  }

  async run(): Promise<TopologyReport> {
    const dryRun = this.flags['dry-run']
    const file = await loadTopologyFile(this.args.file, vhostOfAmqpUrl(this.settings.amqp.url))
    // The audit table must be reachable before the broker is changed, not found missing afterwards.
    if (!dryRun) await this.services.mysql()
    const broker = await openTopologyBroker(this.services)
    const progress = progressBar('declaring', !this.jsonEnabled())
    let report: TopologyReport
    try {
      report = await applyTopology(broker, file, {
        dryRun,
        recreateDrifted: this.flags['recreate-drifted'],
        confirm: (question) => this.confirm(question, this.flags.yes),
        onProgress: progress.update,
      })
    } catch (error) {
      progress.stop()
      if (!dryRun) await this.audit({file: this.args.file, vhost: broker.vhost, error: (error as Error).message}, EXIT.error).catch(() => {})
      throw error
    }
    progress.stop()
    this.print(renderTopologyReport(report, dryRun ? 'plan' : 'apply'))
    for (const note of topologyNotes(report)) this.note(note)
    if (!dryRun)
      await this.audit(
        {
          file: this.args.file,
          vhost: report.vhost,
          check: report.check,
          counts: {created: report.created.length, recreated: report.recreated.length, drifted: report.drifted.length, unchanged: report.unchanged.length, extra: report.extra.length},
          // Names, bounded: the audit row stays small whatever the size of the file.
          created: names(report.created),
          recreated: names(report.recreated),
          drifted: names(report.drifted),
        },
        report.exitCode,
      )
    this.found(report.exitCode === 1)
    return report
  }
}
