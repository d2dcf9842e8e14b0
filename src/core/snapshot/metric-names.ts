/**
 * Every metric name msgops writes, with its help text: the textfiles of `outbox status` and `reconcile` and the
 * `/metrics` of `metrics serve` take their names from here, so that an alert rule reads the same series from either.
 * Prometheus conventions: base units (_seconds), _total for counters, a unit-like suffix (_rows, _messages) for counts.
 */
export const METRICS = {
  outboxRows: {name: 'msgops_outbox_rows', help: 'Outbox rows per status.', type: 'gauge'},
  outboxOldestPendingAge: {name: 'msgops_outbox_oldest_pending_age_seconds', help: 'Age of the oldest pending outbox row (0 when none).', type: 'gauge'},
  outboxStuck: {name: 'msgops_outbox_stuck_rows', help: 'Pending outbox rows older than the stuck threshold.', type: 'gauge'},
  outboxAlerts: {name: 'msgops_outbox_alerts', help: 'Thresholds breached by the last outbox status run.', type: 'gauge'},
  outboxAttempts: {name: 'msgops_outbox_attempts_rows', help: 'Pending and dead-letter rows per attempts bucket.', type: 'gauge'},
  outboxSentRecent: {name: 'msgops_outbox_sent_recent_rows', help: 'Rows sent within the window.', type: 'gauge'},
  outboxFailureGroup: {name: 'msgops_outbox_failure_group_rows', help: 'Dead-letter outbox rows per failure group (the top 5 among the newest 1000 dead-letter rows).', type: 'gauge'},
  queueReady: {name: 'msgops_queue_messages_ready', help: 'Messages ready for delivery in the queue.', type: 'gauge'},
  queueUnacked: {name: 'msgops_queue_messages_unacked', help: 'Messages delivered and not yet acknowledged (management API only).', type: 'gauge'},
  queueConsumers: {name: 'msgops_queue_consumers', help: 'Consumers attached to the queue.', type: 'gauge'},
  queuePublished: {name: 'msgops_queue_published_messages_total', help: 'Messages published to the queue since its statistics began (management API).', type: 'counter'},
  queueDelivered: {name: 'msgops_queue_delivered_messages_total', help: 'Messages delivered or fetched from the queue since its statistics began (management API).', type: 'counter'},
  queueAcked: {name: 'msgops_queue_acknowledged_messages_total', help: 'Messages acknowledged from the queue since its statistics began (management API).', type: 'counter'},
  dlqMessages: {name: 'msgops_dlq_messages', help: 'Messages in a dead-letter queue (ready and unacknowledged).', type: 'gauge'},
  brokerAlarm: {name: 'msgops_broker_alarm', help: 'A RabbitMQ resource alarm in effect (1) on a node, per resource (memory, disk).', type: 'gauge'},
  brokerBlocked: {name: 'msgops_broker_blocked_connections', help: 'Connections of the vhost that RabbitMQ is blocking.', type: 'gauge'},
  inboxReceivedRecent: {name: 'msgops_inbox_received_recent_rows', help: 'Inbox records received within the window.', type: 'gauge'},
  inboxFailed: {name: 'msgops_inbox_failed_rows', help: 'Inbox records whose processing failed (at most 100000).', type: 'gauge'},
  inboxLag: {name: 'msgops_inbox_processing_lag_seconds', help: 'Time from received to processed over the newest 1000 inbox records, per quantile.', type: 'gauge'},
  reconcileFindings: {name: 'msgops_reconcile_findings', help: 'Discrepancies found by the last msgops reconcile, per check.', type: 'gauge'},
  reconcileDuration: {name: 'msgops_reconcile_duration_seconds', help: 'Duration of the last msgops reconcile.', type: 'gauge'},
  reconcileLastSuccess: {name: 'msgops_reconcile_last_success_timestamp_seconds', help: 'Unix time at which msgops reconcile last completed.', type: 'gauge'},
  lockHeld: {name: 'msgops_lock_held', help: 'An msgops lock held now (1), per lock name (drain, replay, reconcile, prune).', type: 'gauge'},
  lockAge: {name: 'msgops_lock_age_seconds', help: 'How long the lock has been held.', type: 'gauge'},
  sourceUp: {name: 'msgops_snapshot_source_up', help: 'The source answered the last snapshot within its timeout (1), or not (0).', type: 'gauge'},
  sourceAge: {name: 'msgops_snapshot_source_age_seconds', help: 'Age of the figures served for the source.', type: 'gauge'},
  snapshotStale: {name: 'msgops_snapshot_stale', help: 'Some figures served are from an earlier read (1): the scrape or a source timed out.', type: 'gauge'},
  snapshotDuration: {name: 'msgops_snapshot_duration_seconds', help: 'How long the last snapshot took.', type: 'gauge'},
  snapshotTimestamp: {name: 'msgops_snapshot_timestamp_seconds', help: 'Unix time of the snapshot served.', type: 'gauge'},
  snapshotsTaken: {name: 'msgops_snapshots_total', help: 'Snapshots taken by this process (a scrape within --min-interval takes none).', type: 'counter'},
} as const satisfies Record<string, {name: string; help: string; type: 'gauge' | 'counter'}>
