import type {Channel, ConsumeMessage} from 'amqplib'

import type {Config} from '../config/schema.js'
import type {DemoBroker, DemoCache, DemoConsumer, DemoDelivery, DeliveryVerdict} from '../core/demo/run.js'
import type {AmqpAdapter} from './amqp.js'
import type {RedisAdapter} from './redis.js'

/** The demo's consumer side of RabbitMQ: manual acks, a prefetch, reject without requeue for poison. */
export function demoBroker(amqp: AmqpAdapter): DemoBroker {
  return {
    async consume(queue, prefetch, handler): Promise<DemoConsumer> {
      const channel: Channel = await amqp.channel()
      await channel.prefetch(prefetch)
      let inFlight = 0
      let last = 0
      let failure: unknown
      const {consumerTag} = await channel.consume(
        queue,
        (message: ConsumeMessage | null) => {
          if (!message) return
          inFlight++
          last = Date.now()
          const delivery: DemoDelivery = {messageId: message.properties.messageId as string | undefined, body: message.content, redelivered: message.fields.redelivered}
          handler(delivery).then(
            (verdict: DeliveryVerdict) => {
              if (verdict === 'ack') channel.ack(message)
              else channel.nack(message, false, false)
            },
            (error: unknown) => {
              // A failed handler leaves the message for redelivery, as a crashed consumer would.
              failure ??= error
              channel.nack(message, false, true)
            },
          ).finally(() => {
            inFlight--
            last = Date.now()
          })
        },
        {noAck: false},
      )
      return {
        inFlight: () => {
          if (failure) throw failure
          return inFlight
        },
        lastDeliveryAt: () => last,
        async stop() {
          await channel.cancel(consumerTag).catch(() => {})
          while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20))
          await channel.close().catch(() => {})
        },
      }
    },
    async queueDepth(queue) {
      const channel = await amqp.channel()
      try {
        return (await channel.checkQueue(queue)).messageCount
      } finally {
        await channel.close().catch(() => {})
      }
    },
  }
}

/** The demo's cache writes, in the configured format. */
export function demoCache(redis: RedisAdapter, cache: Config['cache']): DemoCache {
  const key = (orderId: string) => cache.keyPattern.replace('{id}', orderId)
  return {
    async writeStatus(orderId, status) {
      if (cache.format === 'hash') await redis.run(() => redis.client.hset(key(orderId), cache.field, status))
      else if (cache.format === 'json') await redis.run(() => redis.client.set(key(orderId), JSON.stringify({[cache.field]: status})))
      else await redis.run(() => redis.client.set(key(orderId), status))
    },
    async deleteOrders(pattern) {
      let cursor = '0'
      let deleted = 0
      do {
        const [next, keys] = await redis.run(() => redis.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000))
        if (keys.length > 0) deleted += await redis.run(() => redis.client.del(...keys))
        cursor = next
      } while (cursor !== '0')
      return deleted
    },
  }
}
