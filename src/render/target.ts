import type {Config} from '../config/schema.js'

export type Service = 'mysql' | 'amqp' | 'redis'

/**
 * The service a change is about to reach, named the way an operator tells environments apart (host, port, database or
 * vhost), never with user or password: "MySQL db1.prod:3306/orders", "RabbitMQ mq.prod:5672 vhost /", "Redis cache:6379/0".
 */
export function describeTarget(config: Config, service: Service): string {
  if (service === 'mysql') {
    const url = new URL(config.mysql.url)
    return `MySQL ${url.hostname}:${url.port || 3306}/${decodeURIComponent(url.pathname.replace(/^\//, '')) || '(no database)'}`
  }
  if (service === 'amqp') {
    const url = new URL(config.amqp.url)
    const vhost = url.pathname === '' || url.pathname === '/' ? '/' : decodeURIComponent(url.pathname.slice(1))
    return `RabbitMQ ${url.hostname}:${url.port || (url.protocol === 'amqps:' ? 5671 : 5672)} vhost ${vhost}`
  }
  const url = new URL(config.redis.url)
  return `Redis ${url.hostname}:${url.port || 6379}/${url.pathname.replace(/^\//, '') || '0'} prefix ${config.redis.keyPrefix}`
}
