import {BaseCommand} from '../base-command.js'
import {doctorPorts} from '../adapters/probes.js'
import {type DoctorCheck, runDoctor} from '../core/doctor.js'
import {renderDoctor} from '../render/doctor.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static summary = 'Check that MySQL, RabbitMQ and Redis are reachable and the mapped tables are usable.'
  static description = `Connects to each service and reports its version and latency; checks that the mapped outbox, inbox and orders tables and their columns exist, that the outbox has an index on (status, created_at) (and says how to add the index of outbox ids that reconcile reads, when it is missing), and that FOR UPDATE SKIP LOCKED is supported. The management API is checked when a management URL is configured.
Exit 0 when every check passes, 1 when any fails, 2 when a service cannot be reached.`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --mysql-url mysql://app:secret@db.internal:3306/orders',
  ]

  async run(): Promise<DoctorCheck[]> {
    const withManagement = this.loaded.sources['management.url'] !== 'default'
    const ports = await doctorPorts(this.services, withManagement)
    const report = await runDoctor(ports, this.settings)
    this.print(renderDoctor(report))
    this.found(!report.ok)
    return report.checks
  }
}
