import {BaseCommand} from '../base-command.js'
import {doctorPorts} from '../adapters/probes.js'
import {type DoctorCheck, runDoctor} from '../core/doctor.js'
import {ConnectionError, type MsgopsError, withResult} from '../core/errors.js'
import {renderDoctor} from '../render/doctor.js'

export default class Doctor extends BaseCommand<typeof Doctor> {
  static multiProfile = true

  static summary = 'Check that MySQL, RabbitMQ and Redis are reachable and the mapped tables are usable.'
  static description = `Connects to each service and reports its version and latency; checks that the mapped outbox, inbox and orders tables and their columns exist, that the outbox has an index on (status, created_at) (and says how to add the index of outbox ids that reconcile reads, when it is missing), and that FOR UPDATE SKIP LOCKED is supported. The management API is checked at its configured URL, or at the default one (which topology uses too).
Each read replica (mysql.replicaUrl, --replica-url) gets its row: version, latency, lag and whether it is read-only (a replica that cannot be reached, does not replicate or is writable fails its check).
Every service gets its row, also when another cannot be reached. Exit 0 when every check passes, 1 when any fails (an unreachable management API included), 2 when MySQL, RabbitMQ or Redis cannot be reached (the rows are still printed; with --json they are in the error's result).`

  static examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    '<%= config.bin %> <%= command.id %> --mysql-url mysql://app:secret@db.internal:3306/orders',
  ]

  async run(): Promise<DoctorCheck[]> {
    const ports = await doctorPorts(this.services)
    const report = await runDoctor(ports, this.settings)
    this.print(() => renderDoctor(report))
    const unreachable = [ports.sql, ports.broker, ports.cache].flatMap((r) => (r.ok ? [] : [r.error as MsgopsError]))
    if (unreachable.length > 0)
      throw withResult(unreachable.length === 1 ? unreachable[0] : new ConnectionError('several', unreachable.map((e) => e.message).join('; '), unreachable[0].suggestion), report.checks)
    this.found(!report.ok)
    return report.checks
  }
}
