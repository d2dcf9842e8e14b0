import {Args} from '@oclif/core'

import {openTopologyBroker} from '../../adapters/topology.js'
import {BaseCommand} from '../../base-command.js'
import {planTopologyOnBroker, type TopologyReport} from '../../core/topology/apply.js'
import {loadTopologyFile} from '../../core/topology/model.js'
import {vhostOfAmqpUrl} from '../../core/amqp-url.js'
import {renderTopologyReport, topologyNotes} from '../../render/topology.js'

export default class TopologyPlan extends BaseCommand<typeof TopologyPlan> {
  static multiProfile = true

  static summary = 'Show what `topology apply` would change, without changing anything.'
  static description = `Compares exchanges, queues and bindings of FILE (our YAML, or RabbitMQ definitions JSON) with the vhost of the AMQP URL. Each object is create, unchanged, drift (exists with another type or argument, which RabbitMQ cannot change in place) or extra (on the broker, not in the file: reported, never touched).
Arguments and bindings are read through the management API; when it cannot be reached, only the existence of exchanges and queues is checked with passive declares, and the output says so.
Exit 0 when nothing would change, 1 when something would be created or has drifted, 2 on error.`

  static examples = [
    '<%= config.bin %> <%= command.id %> examples/topology.yaml',
    '<%= config.bin %> <%= command.id %> topology.yaml --json',
    '<%= config.bin %> <%= command.id %> definitions.json --amqp-url amqp://ops:secret@mq.internal:5672/orders --management-url http://ops:secret@mq.internal:15672',
  ]

  static args = {
    file: Args.string({description: 'topology file: YAML (see docs/topology.md) or definitions JSON', required: true}),
  }

  async run(): Promise<TopologyReport> {
    const file = await loadTopologyFile(this.args.file, vhostOfAmqpUrl(this.settings.amqp.url))
    const broker = await openTopologyBroker(this.services)
    const report = await planTopologyOnBroker(broker, file)
    this.print(renderTopologyReport(report, 'plan'))
    for (const note of topologyNotes(report)) this.note(note)
    this.found(report.exitCode === 1)
    return report
  }
}
