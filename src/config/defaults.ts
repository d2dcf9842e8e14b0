/** Header names read for the error text of a failed message when none are configured (dlq.errorHeaders). */
export const DEFAULT_ERROR_HEADERS = ['x-exception', 'x-exception-message', 'x-error', 'x-last-error', 'MT-Fault-Message', 'NServiceBus.ExceptionInfo.Message']
import type {Config} from './schema.js'

/** The reference schema of `msgops schema init` and the local services of a developer machine. */
export const DEFAULTS: Config = {
  mysql: {url: 'mysql://root@127.0.0.1:3306/test', passwordFile: null, replicaUrl: null, heartbeat: null, tls: null},
  amqp: {url: 'amqp://guest:guest@127.0.0.1:5672', urls: [], shuffleUrls: false, passwordFile: null, tls: null},
  redis: {url: 'redis://127.0.0.1:6379', keyPrefix: 'msgops:', passwordFile: null, tls: null},
  management: {url: 'http://guest:guest@127.0.0.1:15672', urls: [], passwordFile: null},
  connectTimeout: '5s',
  outbox: {
    table: 'outbox',
    columns: {
      id: 'id',
      aggregateType: 'aggregate_type',
      aggregateId: 'aggregate_id',
      eventType: 'event_type',
      exchange: 'exchange',
      routingKey: 'routing_key',
      payload: 'payload',
      headers: 'headers',
      status: 'status',
      attempts: 'attempts',
      lastError: 'last_error',
      createdAt: 'created_at',
      availableAt: 'available_at',
      sentAt: 'sent_at',
    },
    statuses: {pending: 'pending', sent: 'sent', deadLetter: 'dead_letter'},
    exchange: null,
    routingKey: null,
    retention: '7d',
    markDrained: false,
  },
  inbox: {
    table: 'inbox',
    columns: {
      messageId: 'message_id',
      consumer: 'consumer',
      aggregateId: 'aggregate_id',
      status: 'status',
      attempts: 'attempts',
      lastError: 'last_error',
      receivedAt: 'received_at',
      processedAt: 'processed_at',
    },
    statuses: {received: 'received', processed: 'processed', failed: 'failed'},
    dedupeWindow: '7d',
  },
  orders: {
    table: 'orders',
    columns: {id: 'id', messageId: 'message_id', status: 'status', createdAt: 'created_at', updatedAt: 'updated_at'},
  },
  cache: {keyPattern: 'order:{id}', format: 'string', field: 'status', onDrift: 'rewrite'},
  audit: {table: 'msgops_audit'},
  dlq: {errorHeaders: DEFAULT_ERROR_HEADERS},
  top: {queues: [], thresholds: {pendingAge: '5m', deadLetterRows: 100, dlqMessages: 100, inboxLagP99: '1m', reconcileFindings: 1}},
}
