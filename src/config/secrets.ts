import {readFileSync, statSync} from 'node:fs'

import {ConfigError} from '../core/errors.js'
import type {Config} from './schema.js'

export type SecretService = 'mysql' | 'amqp' | 'redis' | 'management'
const SERVICES: SecretService[] = ['mysql', 'amqp', 'redis', 'management']

/** Where a service's password comes from, for `config show`: never the password itself. */
export interface SecretSource {
  key: string
  source: 'url' | 'env' | 'file' | 'none'
  /** The variable or file that holds it. */
  where?: string
}

const variable = (service: SecretService) => `MSGOPS_${service.toUpperCase()}_PASSWORD`

/**
 * The password of each service, so that none needs to be on the command line (where `ps` and shell history show it):
 *
 * | MSGOPS_<SERVICE>_PASSWORD | <service>.passwordFile  | password used                        |
 * | ------------------------- | ----------------------- | ------------------------------------ |
 * | set                       | any                     | the variable's                       |
 * | unset                     | a file only its owner   | the file's first line                 |
 * |                           | (and group) may read    |                                      |
 * | unset                     | a file others may read  | refused: exit 2, "chmod 600 FILE"    |
 * | unset                     | unset                   | the URL's own, if any                |
 */
export function secretSources(config: Config, env: NodeJS.ProcessEnv): Record<SecretService, SecretSource> {
  const out = {} as Record<SecretService, SecretSource>
  for (const service of SERVICES) {
    const key = `${service}.password`
    if (env[variable(service)]) out[service] = {key, source: 'env', where: variable(service)}
    else if (config[service].passwordFile) out[service] = {key, source: 'file', where: config[service].passwordFile!}
    else out[service] = {key, source: new URL(config[service].url).password === '' ? 'none' : 'url'}
  }
  return out
}

/** The configuration with each service's password put into its URL, for connecting only: never printed. */
export function withSecrets(config: Config, env: NodeJS.ProcessEnv): Config {
  const sources = secretSources(config, env)
  const out = structuredClone(config)
  for (const service of SERVICES) {
    const source = sources[service]
    if (source.source !== 'env' && source.source !== 'file') continue
    const password = source.source === 'env' ? env[variable(service)]! : readPasswordFile(`${service}.passwordFile`, source.where!)
    const url = new URL(out[service].url)
    url.password = encodeURIComponent(password)
    out[service].url = url.toString()
    // Replicas share the primary's users: a replica URL without a password of its own takes the same one.
    if (service === 'mysql') out.mysql.replicaUrl = mapReplicaUrls(out.mysql.replicaUrl, (replica) => {
      const r = new URL(replica)
      if (r.password === '' && r.username === url.username) r.password = encodeURIComponent(password)
      return r.toString()
    })
  }
  return out
}

/** Every URL of mysql.replicaUrl (one or a list) through `map`, in the same shape. */
function mapReplicaUrls(value: string | string[] | null | undefined, map: (url: string) => string): string | string[] | null {
  if (value === null || value === undefined) return null
  return Array.isArray(value) ? value.map(map) : map(value)
}

/** The first line of a password file that only its owner (and group) may read. */
export function readPasswordFile(key: string, path: string): string {
  let mode: number
  try {
    mode = statSync(path).mode
  } catch (error) {
    throw new ConfigError(`${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, 'check the path')
  }
  if ((mode & 0o006) !== 0)
    throw new ConfigError(
      `${key}: ${path} may be read or written by every user (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`,
      `chmod 600 ${path} (in Kubernetes: defaultMode: 0400 on the secret volume)`,
    )
  const text = readFileSync(path, 'utf8').split(/\r?\n/)[0]
  if (text === '') throw new ConfigError(`${key}: ${path} is empty`, 'put the password on its first line')
  return text
}
