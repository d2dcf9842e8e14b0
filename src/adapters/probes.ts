import type {DoctorPorts, Reached} from '../core/doctor.js'
import {replicaUrls} from '../config/schema.js'
import {maskUrl} from '../core/mask.js'
import type {Services} from './services.js'

async function reach<T>(connecting: Promise<T>): Promise<Reached<T>> {
  try {
    return {ok: true, value: await connecting}
  } catch (error) {
    return {ok: false, error: error as Error}
  }
}

/** Connects to MySQL, RabbitMQ and Redis side by side; one that cannot be reached is reported, not thrown. */
export async function doctorPorts(services: Services): Promise<DoctorPorts> {
  const [sql, broker, cache] = await Promise.all([
    reach(services.mysql().then((mysql) => Object.assign(mysql, {url: maskUrl(mysql.url)}))),
    reach(
      services.amqp().then((amqp) => ({
        url: maskUrl(amqp.url),
        version: async () => `${amqp.product} ${amqp.version}`,
        // A channel open and close is one round trip through the broker.
        ping: async () => (await amqp.channel()).close(),
      })),
    ),
    reach(services.redis().then((redis) => ({url: maskUrl(redis.url), version: async () => `Redis ${await redis.version()}`, ping: () => redis.ping()}))),
  ])
  const management = services.management()
  const replicas = await Promise.all(services.replicas().map(async (connecting, n) => ({url: maskUrl(replicaUrls(services.config)[n]), reached: await reach(connecting)})))
  return {
    sql,
    broker,
    cache,
    replicas,
    management: {
      // Read after the ping: with management.urls, the node that answered.
      get url() {
        return maskUrl(management.url)
      },
      version: async () => `management API ${(await management.overview()).management_version ?? 'unknown'}`,
      ping: async () => {
        await management.overview()
      },
    },
  }
}
