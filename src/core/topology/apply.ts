import {OperationError, UsageError} from '../errors.js'
import type {ProgressCallback} from '../ports.js'
import {bindingName, type BindingSpec, isBuiltInExchange, type QueueSpec, type Topology} from './model.js'
import {CANNOT_CHANGE, createdRefs, type Drift, type ItemRef, type Observed, parsePreconditionFailed, planTopology, type TopologyPlan} from './plan.js'
import {BrokerRefusal, type TopologyBroker} from './ports.js'

/** What plan and apply return; `created` is what apply created, or what plan would create. */
export interface TopologyReport {
  vhost: string
  check: 'full' | 'existence'
  dryRun: boolean
  created: ItemRef[]
  unchanged: ItemRef[]
  drifted: Drift[]
  extra: ItemRef[]
  /** Bindings whose presence could not be checked without the management API. */
  unverified: ItemRef[]
  /** Empty drifted queues deleted and declared again (apply --recreate-drifted). */
  recreated: ItemRef[]
  notes: string[]
  /** 0 nothing to change / matches; 1 changes (plan) or drift remains (apply). */
  exitCode: 0 | 1
}

export interface ApplyOptions {
  /** Only plan: change nothing. */
  dryRun?: boolean
  /** Delete and re-declare drifted queues that hold no message, after confirm(). */
  recreateDrifted?: boolean
  /** Asks before recreating; false leaves everything as it is. */
  confirm?: (question: string) => Promise<boolean>
  /** Called around each declare, so a command can show progress. */
  onProgress?: ProgressCallback
}

const EXISTENCE_NOTE = 'the management API could not be reached: only the existence of exchanges and queues was checked (not arguments, bindings or extra objects)'

/** Reads the broker: everything through the management API, else passive declares of the names the file uses. */
export async function observe(broker: TopologyBroker, file: Topology): Promise<Observed> {
  const all = await broker.readAll()
  if (all) return {mode: 'full', topology: all}
  const exchangeNames = new Set([...file.exchanges.map((e) => e.name), ...file.bindings.map((b) => b.source)])
  for (const b of file.bindings) if (b.destinationType === 'exchange') exchangeNames.add(b.destination)
  const queueNames = new Set([...file.queues.map((q) => q.name), ...file.bindings.filter((b) => b.destinationType === 'queue').map((b) => b.destination)])
  const exchanges = new Set<string>()
  const queues = new Set<string>()
  for (const name of exchangeNames) if (!isBuiltInExchange(name) && (await broker.exchangeExists(name))) exchanges.add(name)
  for (const name of queueNames) if (await broker.queueExists(name)) queues.add(name)
  return {mode: 'existence', exchanges, queues}
}

function reportOf(vhost: string, plan: TopologyPlan, dryRun: boolean): TopologyReport {
  const created = createdRefs(plan)
  return {
    vhost,
    check: plan.check,
    dryRun,
    created,
    unchanged: plan.unchanged,
    drifted: plan.drifted,
    extra: plan.extra,
    unverified: plan.unverified,
    recreated: [],
    notes: plan.check === 'existence' ? [EXISTENCE_NOTE] : [],
    exitCode: created.length > 0 || plan.drifted.length > 0 ? 1 : 0,
  }
}

function checkProblems(plan: TopologyPlan): void {
  if (plan.problems.length === 0) return
  const more = plan.problems.length > 1 ? ` (and ${plan.problems.length - 1} more)` : ''
  throw new UsageError(`${plan.problems[0]}${more}`, 'add it to the file, or create it first')
}

/** `msgops topology plan`: the file against the broker, changing nothing. */
export async function planTopologyOnBroker(broker: TopologyBroker, file: Topology): Promise<TopologyReport> {
  const plan = planTopology(file, await observe(broker, file))
  checkProblems(plan)
  return reportOf(broker.vhost, plan, true)
}

function describeValue(value: unknown): string {
  return value === null || value === undefined ? 'none' : typeof value === 'string' ? value : JSON.stringify(value)
}

/** `queue "order_queue": x-message-ttl is 30000 on the broker, 60000 in the file`. */
export function describeDrift(drift: Drift): string {
  const parts = drift.differences.map((d) => `${d.field} is ${describeValue(d.broker)} on the broker, ${describeValue(d.file)} in the file`)
  return `${drift.kind} "${drift.name}": ${parts.join('; ')}`
}

/**
 * `msgops topology apply`: declares what is missing; never deletes nor changes an existing object, except
 * --recreate-drifted for queues without messages, after confirmation.
 *
 * | plan says          | apply does                                                                   |
 * | ------------------ | ---------------------------------------------------------------------------- |
 * | create             | declares it (exchanges, then queues, then bindings)                          |
 * | unchanged (full)   | nothing                                                                      |
 * | unchanged (exists) | declares it again: a no-op when equal, PRECONDITION_FAILED → drift otherwise |
 * | unverified binding | binds again (binding twice is a no-op)                                       |
 * | drift, exchange    | nothing; reported                                                            |
 * | drift, queue       | nothing; with --recreate-drifted, a classic queue with 0 messages: confirm,  |
 * |                    | delete if-empty, declare, restore its bindings (the file's and the extra     |
 * |                    | ones). Quorum queues and streams: never (the broker has no delete-if-empty)  |
 * | extra              | nothing; reported                                                            |
 * Exit 0 when the broker matches the file afterwards (checked again through the API), 1 when drift remains.
 */
export async function applyTopology(broker: TopologyBroker, file: Topology, options: ApplyOptions = {}): Promise<TopologyReport> {
  const observed = await observe(broker, file)
  const plan = planTopology(file, observed)
  checkProblems(plan)
  const report = reportOf(broker.vhost, plan, options.dryRun === true)
  if (options.dryRun) return report
  report.created = []
  const drifted: Drift[] = [...plan.drifted]

  // Decide and confirm recreation before changing anything, so a refusal leaves the broker as it was.
  const toRecreate: QueueSpec[] = []
  if (options.recreateDrifted) {
    for (const drift of plan.drifted) {
      if (drift.kind !== 'queue') {
        report.notes.push(`exchange "${drift.name}" is not recreated: only queues are (deleting an exchange drops bindings that other files own)`)
        continue
      }
      // RabbitMQ deletes only classic queues "if empty"; deleting a quorum queue or a stream could lose messages.
      const current = observed.mode === 'full' ? observed.topology.queues.find((q) => q.name === drift.name) : undefined
      if (current && current.type !== 'classic') {
        report.notes.push(`queue "${drift.name}" is a ${current.type} queue: RabbitMQ cannot delete it only-if-empty, so msgops does not recreate it; delete it yourself once drained, then apply`)
        continue
      }
      const depth = await broker.queueDepth(drift.name)
      if (depth.messages > 0) report.notes.push(`queue "${drift.name}" holds ${depth.messages} message(s): not recreated`)
      else toRecreate.push(file.queues.find((q) => q.name === drift.name)!)
    }
    if (toRecreate.length > 0) {
      const names = toRecreate.map((q) => q.name).join(', ')
      const ok = options.confirm ? await options.confirm(`Delete and re-declare ${toRecreate.length} empty drifted queue(s) in vhost ${broker.vhost}: ${names}?`) : false
      if (!ok) {
        report.notes.push('recreation not confirmed: nothing changed')
        return report
      }
    }
  }

  const existenceOnly = observed.mode === 'existence'
  const exchanges = existenceOnly ? file.exchanges : plan.create.exchanges
  const queues = existenceOnly ? file.queues : plan.create.queues
  const bindings = existenceOnly ? file.bindings : plan.create.bindings
  const createNames = new Set(createdRefs(plan).map((r) => `${r.kind}\u0000${r.name}`))
  const total = exchanges.length + queues.length + bindings.length
  let done = 0
  const step = async (ref: ItemRef, declare: () => Promise<void>) => {
    if (total > 0) options.onProgress?.({done: done++, total})
    try {
      await declare()
      if (!existenceOnly || createNames.has(`${ref.kind}\u0000${ref.name}`)) report.created.push(ref)
    } catch (error) {
      if (!(error instanceof BrokerRefusal)) throw error
      const difference = parsePreconditionFailed(error.text)
      if (error.code === 406 && difference) {
        const drift: Drift = {...ref, differences: [difference], reason: CANNOT_CHANGE}
        drifted.push(drift)
        report.notes.push(`RabbitMQ refused ${describeDrift(drift)}: it cannot be changed in place`)
        return
      }
      throw new OperationError(`${ref.kind} "${ref.name}": RabbitMQ refused it: ${error.text}`, 'check the file and the permissions of the AMQP user')
    }
  }
  for (const e of exchanges) await step({kind: 'exchange', name: e.name}, () => broker.declareExchange(e))
  for (const q of queues) await step({kind: 'queue', name: q.name}, () => broker.declareQueue(q))
  for (const b of bindings) await step({kind: 'binding', name: bindingName(b)}, () => broker.bind(b))
  if (total > 0) options.onProgress?.({done, total})
  if (existenceOnly) report.unchanged = report.unchanged.filter((r) => !drifted.some((d) => d.kind === r.kind && d.name === r.name))

  for (const queue of toRecreate) {
    if (!(await broker.deleteEmptyQueue(queue.name))) {
      report.notes.push(`queue "${queue.name}" received messages meanwhile: not recreated`)
      continue
    }
    await broker.declareQueue(queue)
    const restore: BindingSpec[] = [
      ...file.bindings.filter((b) => b.destinationType === 'queue' && b.destination === queue.name),
      ...(observed.mode === 'full' ? observed.topology.bindings.filter((b) => b.source !== '' && b.destinationType === 'queue' && b.destination === queue.name) : []),
    ]
    const seen = new Set<string>()
    for (const b of restore) {
      const name = bindingName(b)
      if (seen.has(name)) continue
      seen.add(name)
      await broker.bind(b)
    }
    report.recreated.push({kind: 'queue', name: queue.name})
  }

  const changed = report.created.length > 0 || report.recreated.length > 0
  if (observed.mode === 'full' && changed) {
    // Verify: what the broker has now, not what we believe we did.
    const after = planTopology(file, await observe(broker, file))
    report.drifted = after.drifted
    report.extra = after.extra
    const missing = createdRefs(after)
    if (missing.length > 0) report.notes.push(`still missing after apply: ${missing.map((r) => `${r.kind} "${r.name}"`).join(', ')}`)
    report.exitCode = after.drifted.length > 0 || missing.length > 0 ? 1 : 0
  } else {
    report.drifted = drifted.filter((d) => !report.recreated.some((r) => r.name === d.name && d.kind === 'queue'))
    report.exitCode = report.drifted.length > 0 ? 1 : 0
  }
  return report
}
