import {Flags} from '@oclif/core'

import {openTopologyBroker} from '../../adapters/topology.js'
import {BaseCommand} from '../../base-command.js'
import {type DefinitionsDocument, exportTopology, type ExportFormat, type TopologyDocument} from '../../core/topology/export.js'
import {renderExport} from '../../render/topology.js'

export default class TopologyExport extends BaseCommand<typeof TopologyExport> {
  static summary = "Write what the broker's vhost holds as a topology file."
  static description = `Lists the exchanges, queues and bindings of the vhost of the AMQP URL through the management API, leaving out what every vhost has (the default exchange, amq.*, the default bindings) and exclusive queues. The output, saved to a file, gives "nothing to change" with \`topology plan\` on the same broker.
--format yaml writes our YAML (friendly argument keys); --format definitions writes the JSON of \`rabbitmqctl export_definitions\`. With --json the document is printed as JSON.`

  static examples = [
    '<%= config.bin %> <%= command.id %> > topology.yaml',
    '<%= config.bin %> <%= command.id %> --format definitions > definitions.json',
  ]

  static flags = {
    format: Flags.string({description: 'output format', options: ['yaml', 'definitions'], default: 'yaml'}),
  }

  async run(): Promise<TopologyDocument | DefinitionsDocument> {
    const format = this.flags.format as ExportFormat
    const broker = await openTopologyBroker(this.services)
    const document = await exportTopology(broker, format)
    this.print(renderExport(document, format, broker.vhost))
    return document
  }
}
