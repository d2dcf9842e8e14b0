/**
 * The topology file: exchanges, queues and bindings, in our YAML (friendly argument keys) or as the
 * definitions JSON that `rabbitmqctl export_definitions` writes. Both parse to one normalised `Topology`
 * whose arguments are the broker's own `x-…` keys, so that the plan compares like with like.
 */
import {parse as parseYaml, YAMLParseError} from 'yaml'
import {z} from 'zod'

import {UsageError} from '../errors.js'

export const EXCHANGE_TYPES = ['direct', 'topic', 'fanout', 'headers'] as const
export const QUEUE_TYPES = ['classic', 'quorum', 'stream'] as const
export type QueueType = (typeof QUEUE_TYPES)[number]
export type Args = Record<string, unknown>

export interface ExchangeSpec {
  name: string
  /** direct|topic|fanout|headers, or a plugin type (x-…) found on a broker. */
  type: string
  durable: boolean
  autoDelete: boolean
  internal: boolean
  arguments: Args
}

export interface QueueSpec {
  name: string
  type: QueueType
  durable: boolean
  autoDelete: boolean
  /** Broker argument keys (x-…), without x-queue-type: the type lives in `type`. */
  arguments: Args
  /** Only on an observed queue: exclusive queues belong to a connection and are never reported. */
  exclusive?: boolean
}

export interface BindingSpec {
  source: string
  destination: string
  destinationType: 'queue' | 'exchange'
  routingKey: string
  arguments: Args
}

export interface Topology {
  exchanges: ExchangeSpec[]
  queues: QueueSpec[]
  bindings: BindingSpec[]
}

/** Friendly queue argument keys and the x-arguments they stand for. */
export const QUEUE_ARGUMENTS = {
  deadLetterExchange: {key: 'x-dead-letter-exchange', schema: z.string()},
  deadLetterRoutingKey: {key: 'x-dead-letter-routing-key', schema: z.string()},
  deadLetterStrategy: {key: 'x-dead-letter-strategy', schema: z.enum(['at-most-once', 'at-least-once'])},
  messageTtl: {key: 'x-message-ttl', schema: z.number().int().nonnegative()},
  expires: {key: 'x-expires', schema: z.number().int().positive()},
  maxLength: {key: 'x-max-length', schema: z.number().int().nonnegative()},
  maxLengthBytes: {key: 'x-max-length-bytes', schema: z.number().int().nonnegative()},
  overflow: {key: 'x-overflow', schema: z.enum(['drop-head', 'reject-publish', 'reject-publish-dlx'])},
  maxPriority: {key: 'x-max-priority', schema: z.number().int().min(1).max(255)},
  queueMode: {key: 'x-queue-mode', schema: z.enum(['default', 'lazy'])},
  deliveryLimit: {key: 'x-delivery-limit', schema: z.number().int().nonnegative()},
  singleActiveConsumer: {key: 'x-single-active-consumer', schema: z.boolean()},
  maxAge: {key: 'x-max-age', schema: z.string().regex(/^\d+[YMDhms]$/, {message: 'expected a stream age such as 7D, 12h or 30m'})},
  streamMaxSegmentSizeBytes: {key: 'x-stream-max-segment-size-bytes', schema: z.number().int().positive()},
} as const

/** Friendly exchange argument keys. */
export const EXCHANGE_ARGUMENTS = {
  alternateExchange: {key: 'alternate-exchange', schema: z.string()},
} as const

type FriendlyMap = Record<string, {key: string; schema: z.ZodType}>

/** Arguments with friendly keys (validated) and raw broker keys; the broker form (x-…) is what comes out. */
function argumentsSchema(friendly: FriendlyMap, rawPrefix: RegExp, forbidden: Record<string, string> = {}) {
  const byRaw = new Map(Object.entries(friendly).map(([name, f]) => [f.key, name]))
  return z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((args, ctx) => {
      for (const [key, value] of Object.entries(args)) {
        if (forbidden[key]) {
          ctx.addIssue({code: 'custom', path: [key], message: forbidden[key]})
          continue
        }
        const known = friendly[key]
        if (known) {
          const checked = known.schema.safeParse(value)
          if (!checked.success) ctx.addIssue({code: 'custom', path: [key], message: describeIssue(checked.error.issues[0])})
          if (Object.hasOwn(args, known.key)) ctx.addIssue({code: 'custom', path: [key], message: `given twice, also as ${known.key}`})
          continue
        }
        if (!rawPrefix.test(key))
          ctx.addIssue({code: 'custom', path: [key], message: `unknown argument; use one of ${Object.keys(friendly).join(', ')}, or a raw broker argument (x-…)`})
        else if (value === null || value === undefined) ctx.addIssue({code: 'custom', path: [key], message: 'expected a value'})
        else if (byRaw.has(key)) {
          const checked = friendly[byRaw.get(key)!].schema.safeParse(value)
          if (!checked.success) ctx.addIssue({code: 'custom', path: [key], message: describeIssue(checked.error.issues[0])})
        }
      }
    })
    .transform((args) => {
      const out: Args = {}
      for (const [key, value] of Object.entries(args)) out[friendly[key]?.key ?? key] = value
      return out
    })
}

const name = z.string().min(1, {message: 'expected a non-empty name'}).max(255, {message: 'at most 255 characters'})

const exchangeSchema = z.strictObject({
  name: name.refine((n) => !n.startsWith('amq.'), {message: 'amq.* names are reserved by RabbitMQ: bind to them without declaring them'}),
  type: z.string().refine((t) => (EXCHANGE_TYPES as readonly string[]).includes(t) || /^x-[\w.-]+$/.test(t), {message: `expected one of ${EXCHANGE_TYPES.join('|')} (or a plugin type x-…)`}),
  durable: z.boolean().default(true),
  autoDelete: z.boolean().default(false),
  internal: z.boolean().default(false),
  arguments: argumentsSchema(EXCHANGE_ARGUMENTS, /^(x-|alternate-exchange$)/),
})

const queueSchema = z
  .strictObject({
    name: name.refine((n) => !n.startsWith('amq.'), {message: 'amq.* queue names are reserved by RabbitMQ'}),
    type: z.enum(QUEUE_TYPES).default('classic'),
    durable: z.boolean().default(true),
    autoDelete: z.boolean().default(false),
    arguments: argumentsSchema(QUEUE_ARGUMENTS, /^x-/, {'x-queue-type': 'set the queue type with `type:` next to `arguments:`'}),
  })
  .superRefine((q, ctx) => {
    if (q.type !== 'classic' && !q.durable) ctx.addIssue({code: 'custom', path: ['durable'], message: `a ${q.type} queue must be durable`})
    if (q.type !== 'classic' && q.autoDelete) ctx.addIssue({code: 'custom', path: ['autoDelete'], message: `a ${q.type} queue cannot be auto-delete`})
  })

const bindingSchema = z.strictObject({
  source: name.refine((n) => n !== '', {message: 'cannot bind to the default exchange'}),
  destination: name,
  destinationType: z.enum(['queue', 'exchange']).default('queue'),
  routingKey: z.string().max(255).default(''),
  arguments: z.record(z.string(), z.unknown()).default({}),
})

export const topologySchema = z
  .strictObject({
    exchanges: z.array(exchangeSchema).default([]),
    queues: z.array(queueSchema).default([]),
    bindings: z.array(bindingSchema).default([]),
  })
  .superRefine((t, ctx) => {
    for (const list of ['exchanges', 'queues'] as const) {
      const seen = new Set<string>()
      t[list].forEach((item, i) => {
        if (seen.has(item.name)) ctx.addIssue({code: 'custom', path: [list, i, 'name'], message: `"${item.name}" is declared twice`})
        seen.add(item.name)
      })
    }
    const seen = new Set<string>()
    t.bindings.forEach((b, i) => {
      const key = bindingKey(b)
      if (seen.has(key)) ctx.addIssue({code: 'custom', path: ['bindings', i], message: 'the same binding is declared twice'})
      seen.add(key)
    })
  })

/** `queues[3].arguments.messageTtl` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`
  return out
}

const ARTICLE: Record<string, string> = {number: 'a number', string: 'a string', boolean: 'true or false', array: 'a list', object: 'a map', record: 'a map'}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${ARTICLE[issue.expected] ?? issue.expected}`
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
    case 'invalid_value':
      return `expected one of ${issue.values.map(String).join('|')}`
    case 'too_small':
      return issue.origin === 'string' ? issue.message : `expected a number >= ${String(issue.minimum)}`
    case 'too_big':
      return issue.origin === 'string' ? issue.message : `expected a number <= ${String(issue.maximum)}`
    default:
      return issue.message
  }
}

function describeIssues(issues: z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 3).map((issue) => {
    const path = formatPath(issue.path)
    return path === '' ? describeIssue(issue) : `${path}: ${describeIssue(issue)}`
  })
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''
  return shown.join('; ') + more
}

/** Validates our YAML model (already parsed from text); throws a UsageError naming the path of the first problems. */
export function parseTopologyModel(data: unknown, where = 'topology file'): Topology {
  if (data === null || data === undefined) return {exchanges: [], queues: [], bindings: []}
  const result = topologySchema.safeParse(data)
  if (!result.success) throw new UsageError(`${where}: ${describeIssues(result.error.issues)}`, 'fix the file; see docs/topology.md for the format')
  return result.data
}

/** True for a document shaped like `rabbitmqctl export_definitions` output. */
export function looksLikeDefinitions(data: unknown): boolean {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return false
  const d = data as Record<string, unknown>
  if ('rabbit_version' in d || 'rabbitmq_version' in d || 'users' in d || 'vhosts' in d || 'policies' in d) return true
  const first = [d.queues, d.exchanges, d.bindings].flatMap((l) => (Array.isArray(l) ? l.slice(0, 1) : []))[0] as Record<string, unknown> | undefined
  return first !== undefined && ('auto_delete' in first || 'destination_type' in first || 'vhost' in first)
}

const defExchange = z.object({
  name: z.string(),
  vhost: z.string().optional(),
  type: z.string(),
  durable: z.boolean().default(true),
  auto_delete: z.boolean().default(false),
  internal: z.boolean().default(false),
  arguments: z.record(z.string(), z.unknown()).nullish(),
})
const defQueue = z.object({
  name: z.string(),
  vhost: z.string().optional(),
  type: z.string().optional(),
  durable: z.boolean().default(true),
  auto_delete: z.boolean().default(false),
  arguments: z.record(z.string(), z.unknown()).nullish(),
})
const defBinding = z.object({
  source: z.string(),
  vhost: z.string().optional(),
  destination: z.string(),
  destination_type: z.enum(['queue', 'exchange']),
  routing_key: z.string().default(''),
  arguments: z.record(z.string(), z.unknown()).nullish(),
})
const definitionsSchema = z.object({
  exchanges: z.array(defExchange).default([]),
  queues: z.array(defQueue).default([]),
  bindings: z.array(defBinding).default([]),
})

/**
 * Definitions JSON → Topology. A whole-broker export holds several vhosts: then only the target vhost's objects
 * are taken; a one-vhost export applies to whatever vhost we target.
 */
export function parseDefinitions(data: unknown, vhost: string, where = 'definitions file'): Topology {
  const result = definitionsSchema.safeParse(data)
  if (!result.success) throw new UsageError(`${where}: ${describeIssues(result.error.issues)}`, 'pass a file written by `rabbitmqctl export_definitions` or `msgops topology export --format definitions`')
  const d = result.data
  const vhosts = new Set([...d.exchanges, ...d.queues, ...d.bindings].map((o) => o.vhost).filter((v) => v !== undefined))
  const keep = (o: {vhost?: string}) => vhosts.size <= 1 || o.vhost === vhost
  const queues: QueueSpec[] = []
  for (const [i, q] of d.queues.entries()) {
    if (!keep(q)) continue
    const args = {...q.arguments}
    const type = String(q.type ?? args['x-queue-type'] ?? 'classic')
    delete args['x-queue-type']
    if (!(QUEUE_TYPES as readonly string[]).includes(type)) throw new UsageError(`${where}: queues[${i}].type: expected one of ${QUEUE_TYPES.join('|')}`)
    queues.push({name: q.name, type: type as QueueType, durable: q.durable, autoDelete: q.auto_delete, arguments: args})
  }
  const topology: Topology = {
    exchanges: d.exchanges.filter(keep).filter((e) => !isBuiltInExchange(e.name)).map((e) => ({name: e.name, type: e.type, durable: e.durable, autoDelete: e.auto_delete, internal: e.internal, arguments: {...e.arguments}})),
    queues,
    bindings: d.bindings
      .filter(keep)
      .filter((b) => b.source !== '')
      .map((b) => ({source: b.source, destination: b.destination, destinationType: b.destination_type, routingKey: b.routing_key, arguments: {...b.arguments}})),
  }
  return topology
}

/** Parses a topology file's text: YAML (our model) or JSON (either our model or definitions). */
export function parseTopologyText(text: string, vhost: string, where: string): Topology {
  // An empty file is far more often a truncated or wrong file than a wish for an empty topology.
  if (text.trim() === '') throw new UsageError(`${where} is empty`, 'give it exchanges, queues or bindings (see examples/topology.yaml)')
  let data: unknown
  try {
    data = parseYaml(text, {prettyErrors: false})
  } catch (error) {
    const line = error instanceof YAMLParseError ? ` at line ${text.slice(0, error.pos[0]).split('\n').length}` : ''
    throw new UsageError(`${where}: not valid YAML or JSON${line}: ${(error as Error).message.split('\n')[0]}`)
  }
  return looksLikeDefinitions(data) ? parseDefinitions(data, vhost, where) : parseTopologyModel(data, where)
}

/** The default exchange "" and the amq.* exchanges exist in every vhost; they are never declared nor reported. */
export function isBuiltInExchange(name: string): boolean {
  return name === '' || name.startsWith('amq.')
}

/** JSON with sorted keys, so that equal arguments compare equal whatever their order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Args).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  )
}

export function bindingKey(b: BindingSpec): string {
  return canonical([b.source, b.destinationType, b.destination, b.routingKey, b.arguments])
}

/** How a binding is named in reports: `order_exchange -> order_queue [order.*]`. */
export function bindingName(b: BindingSpec): string {
  const dest = b.destinationType === 'exchange' ? `exchange ${b.destination}` : b.destination
  const args = Object.keys(b.arguments).length > 0 ? ` ${canonical(b.arguments)}` : ''
  return `${b.source} -> ${dest} [${b.routingKey}]${args}`
}


/** Reads and validates a topology file; every problem is a UsageError naming the file. */
export async function loadTopologyFile(path: string, vhost: string): Promise<Topology> {
  const {readFile} = await import('node:fs/promises')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new UsageError(`cannot read topology file ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'error')}`, 'check the FILE argument')
  }
  return parseTopologyText(text, vhost, path)
}
