/** What the management API says of a queue that matters to reading it with hold-and-return. */
export interface QueueKind {
  /** x-queue-type: classic, quorum or stream. */
  type: string | null
  /** The delivery limit in force: the queue's x-delivery-limit argument, else its policy's delivery-limit. */
  deliveryLimit: number | null
}

/**
 * Whether reading a queue with hold-and-return (dlq inspect, and the messages replay or purge leave) is safe.
 * A quorum queue counts every delivery, returned or not: past its delivery limit a message is dead-lettered, or dropped
 * when the queue has no dead-letter exchange. So each inspection spends one delivery of every message it reads.
 *
 * | queue type       | delivery limit | decision                                                          |
 * | ---------------- | -------------- | ----------------------------------------------------------------- |
 * | quorum           | set            | refuse, unless --allow-deliveries: each read spends one delivery   |
 * | quorum           | none           | read (RabbitMQ 3.x: no limit unless set)                          |
 * | classic, stream  | any            | read                                                              |
 * | unknown (no API) | -              | read: without the management API the limit cannot be seen (docs)  |
 */
export function deliveryLimitRisk(kind: QueueKind | null, queue: string): {refuse: string | null} {
  if (kind !== null && kind.type === 'quorum' && kind.deliveryLimit !== null)
    return {refuse: `${queue} is a quorum queue with a delivery limit of ${kind.deliveryLimit}: every read counts as a delivery of each message held, and past the limit RabbitMQ dead-letters or drops it`}
  return {refuse: null}
}
