import type {DoctorPorts} from '../core/doctor.js'
import {ConnectionError} from '../core/errors.js'
import {maskUrl} from '../core/mask.js'
import type {Services} from './services.js'

/**
 * Connects to MySQL, RabbitMQ and Redis together; if any cannot be reached the command cannot run,
 * so every unreachable service is named in one error.
 */
export async function doctorPorts(services: Services, withManagement: boolean): Promise<DoctorPorts> {
  const [sql, amqp, redis] = await Promise.allSettled([services.mysql(), services.amqp(), services.redis()])
  const failures = [sql, amqp, redis].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error)
  if (failures.length === 1) throw failures[0]
  if (failures.length > 1) {
    const first = failures[0] as ConnectionError
    throw new ConnectionError('several', failures.map((f) => f.message).join('; '), first.suggestion)
  }
  const mysql = (sql as PromiseFulfilledResult<Awaited<ReturnType<Services['mysql']>>>).value
  const broker = (amqp as PromiseFulfilledResult<Awaited<ReturnType<Services['amqp']>>>).value
  const cache = (redis as PromiseFulfilledResult<Awaited<ReturnType<Services['redis']>>>).value
  const management = services.management()
  return {
    sql: Object.assign(mysql, {url: maskUrl(mysql.url)}) as DoctorPorts['sql'],
    broker: {
      url: maskUrl(broker.url),
      version: async () => `${broker.product} ${broker.version}`,
      // A channel open and close is one round trip through the broker.
      ping: async () => (await broker.channel()).close(),
    },
    cache: {url: maskUrl(cache.url), version: async () => `Redis ${await cache.version()}`, ping: () => cache.ping()},
    management: withManagement
      ? {
          url: maskUrl(management.url),
          version: async () => `management API ${(await management.overview()).management_version ?? 'unknown'}`,
          ping: async () => {
            await management.overview()
          },
        }
      : undefined,
  }
}
