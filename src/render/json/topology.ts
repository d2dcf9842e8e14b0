import {z} from 'zod'

import type TopologyApply from '../../commands/topology/apply.js'
import type TopologyExport from '../../commands/topology/export.js'
import type TopologyPlan from '../../commands/topology/plan.js'
import {QUEUE_TYPES} from '../../core/topology/model.js'
import {type Agree, type RunResult, type Within} from './common.js'

const item = {kind: z.enum(['exchange', 'queue', 'binding']), name: z.string().describe("a binding is named \"source -> destination [routing key]\" (\"exchange destination\" for an exchange)")}
const ref = z.strictObject(item)
const args = z.record(z.string(), z.unknown())

/** What plan and apply print: the same report, `created` being what apply created or plan would create. */
export const topologyReportOutput = z.strictObject({
  vhost: z.string(),
  check: z.enum(['full', 'existence']).describe('full: arguments and bindings compared (management API); existence: only whether exchanges and queues exist'),
  dryRun: z.boolean(),
  created: z.array(ref).describe('created by apply; to be created by plan'),
  unchanged: z.array(ref),
  drifted: z
    .array(
      z.strictObject({
        ...item,
        differences: z.array(z.strictObject({field: z.string(), file: z.unknown().describe('null: absent from the file'), broker: z.unknown().describe('null: absent on the broker')})),
        reason: z.string().describe('why apply leaves it alone'),
      }),
    )
    .describe('on the broker with another type or argument, which RabbitMQ cannot change in place'),
  extra: z.array(ref).describe('on the broker, not in the file: reported, never touched'),
  unverified: z.array(ref).describe('bindings whose presence could not be checked without the management API'),
  recreated: z.array(ref).describe('empty drifted classic queues deleted and declared again (apply --recreate-drifted)'),
  notes: z.array(z.string()),
  exitCode: z.union([z.literal(0), z.literal(1)]).describe('0 nothing to change (plan) or the broker matches (apply); 1 changes to make (plan) or drift left (apply)'),
})

/** --format yaml: our topology file as JSON (defaults left out, friendly argument keys). */
const topologyDocument = z
  .strictObject({
    exchanges: z.array(
      z.strictObject({
        name: z.string(),
        type: z.string().describe('direct, topic, fanout, headers or a plugin type'),
        durable: z.literal(false).optional().describe('present only when not durable'),
        autoDelete: z.literal(true).optional(),
        internal: z.literal(true).optional(),
        arguments: args.optional(),
      }),
    ),
    queues: z.array(
      z.strictObject({
        name: z.string(),
        type: z.enum(QUEUE_TYPES).exclude(['classic']).optional().describe('present only when not classic'),
        durable: z.literal(false).optional(),
        autoDelete: z.literal(true).optional(),
        arguments: args.optional().describe('friendly keys (deadLetterExchange) where one exists, else the broker key (x-…)'),
      }),
    ),
    bindings: z.array(
      z.strictObject({
        source: z.string(),
        destination: z.string(),
        destinationType: z.literal('exchange').optional().describe('present only for an exchange-to-exchange binding'),
        routingKey: z.string().optional().describe('present only when not empty'),
        arguments: args.optional(),
      }),
    ),
  })
  .describe('--format yaml (the default)')

/** --format definitions: what `rabbitmqctl export_definitions` writes, for this vhost. */
const definitionsDocument = z
  .strictObject({
    rabbit_version: z.string().optional(),
    exchanges: z.array(z.strictObject({name: z.string(), vhost: z.string(), type: z.string(), durable: z.boolean(), auto_delete: z.boolean(), internal: z.boolean(), arguments: args})),
    queues: z.array(z.strictObject({name: z.string(), vhost: z.string(), durable: z.boolean(), auto_delete: z.boolean(), arguments: args.describe('x-queue-type set unless classic')})),
    bindings: z.array(
      z.strictObject({
        source: z.string(),
        vhost: z.string(),
        destination: z.string(),
        destination_type: z.enum(['queue', 'exchange']),
        routing_key: z.string(),
        arguments: args,
      }),
    ),
  })
  .describe('--format definitions')

export const topologyExportOutput = z.union([topologyDocument, definitionsDocument])

// Compile-time: each schema describes exactly what its command's run() returns; export's core type is
// Record<string, unknown> per object, so there the schema is only checked to be within it.
true satisfies Agree<z.output<typeof topologyReportOutput>, RunResult<typeof TopologyPlan>>
true satisfies Agree<z.output<typeof topologyReportOutput>, RunResult<typeof TopologyApply>>
true satisfies Within<z.output<typeof topologyExportOutput>, RunResult<typeof TopologyExport>>
