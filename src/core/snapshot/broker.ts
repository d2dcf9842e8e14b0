import type {Topology} from '../topology/model.js'
import type {BrokerFigures, QueueFigures} from './model.js'
import type {ListedQueue, QueueBinding, SnapshotBroker} from './ports.js'

/** Queues shown when none is named and the management API lists the vhost's. */
export const MAX_LISTED_QUEUES = 50
/** Bindings change rarely: they are read again after this long, not on every refresh. */
const BINDINGS_TTL_MS = 60_000

const DEAD_LETTER_NAME = /(^|[._:-])(dlq|dlx|dead[._-]?letters?|deadletters?|poison|errors?)([._:-]|$)/i

/**
 * The dead-letter queues among the queues: a decision from the arguments of the queues and the bindings.
 *
 * | a queue Q is a dead-letter queue when                                                         |
 * | --------------------------------------------------------------------------------------------- |
 * | Q is bound to an exchange that some queue names as its x-dead-letter-exchange                 |
 * | some queue dead-letters to the default exchange ("") with x-dead-letter-routing-key Q         |
 * | neither is known (no bindings, no arguments) and Q's name has a dlq/dlx/dead-letter/error part |
 */
export function deadLetterQueues(queues: readonly {name: string; arguments: Record<string, unknown>}[], bindings: readonly QueueBinding[] | null): Set<string> {
  const exchanges = new Set<string>()
  const direct = new Set<string>()
  for (const q of queues) {
    const dlx = q.arguments['x-dead-letter-exchange']
    if (typeof dlx !== 'string') continue
    if (dlx === '') {
      const key = q.arguments['x-dead-letter-routing-key']
      direct.add(typeof key === 'string' ? key : q.name)
    } else exchanges.add(dlx)
  }
  const out = new Set<string>()
  for (const b of bindings ?? []) if (exchanges.has(b.source)) out.add(b.queue)
  for (const name of direct) out.add(name)
  const known = exchanges.size > 0 || direct.size > 0
  for (const q of queues) if (!known && DEAD_LETTER_NAME.test(q.name)) out.add(q.name)
  return out
}

/** The queues a topology file names, its DLX arguments and its bindings, for the classification above. */
function fromTopology(topology: Topology | undefined): {queues: {name: string; arguments: Record<string, unknown>}[]; bindings: QueueBinding[]} {
  if (!topology) return {queues: [], bindings: []}
  return {
    queues: topology.queues.map((q) => ({name: q.name, arguments: q.arguments})),
    bindings: topology.bindings.filter((b) => b.destinationType === 'queue').map((b) => ({source: b.source, queue: b.destination})),
  }
}

/**
 * The broker part: the named queues (or, with none named, every queue the management API lists), their figures and
 * the change of each queue's depth since the previous read; alarms and blocked connections. Without the management
 * API, passive declares give ready and consumers of the named queues.
 */
export class BrokerReader {
  private readonly previous = new Map<string, number>()
  private bindings?: {at: number; list: QueueBinding[]}

  constructor(
    private readonly broker: SnapshotBroker,
    private readonly named: readonly string[],
    private readonly topology?: Topology,
    private readonly now: () => number = Date.now,
  ) {}

  async read(): Promise<BrokerFigures> {
    const listed = await this.broker.listQueues()
    const figures = listed ? await this.viaManagement(listed) : await this.viaAmqp()
    for (const q of figures.queues) {
      const before = this.previous.get(q.name)
      q.change = before === undefined ? null : q.messages - before
      this.previous.set(q.name, q.messages)
    }
    return figures
  }

  private async viaManagement(listed: ListedQueue[]): Promise<BrokerFigures> {
    const [bindings, alarms, blocked] = await Promise.all([this.bindingsCached(), this.broker.alarms(), this.broker.blockedConnections()])
    const file = fromTopology(this.topology)
    const dead = deadLetterQueues([...listed, ...file.queues], [...bindings, ...file.bindings])
    const byName = new Map(listed.map((q) => [q.name, q]))
    const names = this.named.length > 0 ? [...this.named] : listed.filter((q) => !q.exclusive).map((q) => q.name).sort().slice(0, MAX_LISTED_QUEUES)
    const queues = names.map((name): QueueFigures => {
      const q = byName.get(name)
      if (!q) return {name, deadLetter: dead.has(name), exists: false, ready: 0, unacked: 0, consumers: 0, rates: null, totals: null, messages: 0, change: null}
      return {name, deadLetter: dead.has(name), exists: true, ready: q.ready, unacked: q.unacked, consumers: q.consumers, rates: q.rates, totals: q.totals, messages: q.ready + q.unacked, change: null}
    })
    return {vhost: this.broker.vhost, via: 'management', queues, alarms, blockedConnections: blocked}
  }

  private async viaAmqp(): Promise<BrokerFigures> {
    if (this.named.length === 0)
      throw new Error('the RabbitMQ management API cannot be reached, and passive declares need the queues named (--queue, --topology or top.queues)')
    const file = fromTopology(this.topology)
    const dead = deadLetterQueues(file.queues.length > 0 ? file.queues : this.named.map((name) => ({name, arguments: {}})), file.bindings)
    const queues: QueueFigures[] = []
    for (const name of this.named) {
      const q = await this.broker.declarePassive(name)
      queues.push({name, deadLetter: dead.has(name), exists: q !== null, ready: q?.ready ?? 0, unacked: null, consumers: q?.consumers ?? 0, rates: null, totals: null, messages: q?.ready ?? 0, change: null})
    }
    return {vhost: this.broker.vhost, via: 'amqp', queues, alarms: null, blockedConnections: null}
  }

  private async bindingsCached(): Promise<QueueBinding[]> {
    if (!this.bindings || this.now() - this.bindings.at > BINDINGS_TTL_MS) this.bindings = {at: this.now(), list: await this.broker.listBindings()}
    return this.bindings.list
  }
}
