/** The vhost an AMQP URL names: its path, "/" when there is none. */
export function vhostOfAmqpUrl(url: string): string {
  const path = new URL(url).pathname
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1))
}
