import {existsSync, readFileSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {parse as parseYaml} from 'yaml'
import type {z} from 'zod'

import {ConfigError} from '../core/errors.js'
import {DEFAULTS} from './defaults.js'
import {type Config, configSchema, TOP_LEVEL_KEYS} from './schema.js'

export type Source = 'default' | 'file' | 'profile' | 'env' | 'flag'

export interface ConfigOverrides {
  mysqlUrl?: string
  /** --replica-url (repeatable). */
  replicaUrl?: string | string[]
  amqpUrl?: string
  redisUrl?: string
  managementUrl?: string
  connectTimeout?: string
}

export interface LoadOptions {
  /** --config; when absent the usual places are searched. */
  configPath?: string
  /** --profile */
  profile?: string
  flags?: ConfigOverrides
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface LoadedConfig {
  config: Config
  /** Where each leaf value came from, by dotted path (`outbox.columns.id`). */
  sources: Record<string, Source>
  file?: string
  profile?: string
  /** Every profile the file defines, in its order. */
  profiles: string[]
}

type Tree = Record<string, unknown>

const ENV_KEYS: Record<string, string[]> = {
  MSGOPS_MYSQL_URL: ['mysql', 'url'],
  MSGOPS_MYSQL_REPLICA_URL: ['mysql', 'replicaUrl'],
  MSGOPS_AMQP_URL: ['amqp', 'url'],
  MSGOPS_REDIS_URL: ['redis', 'url'],
  MSGOPS_MANAGEMENT_URL: ['management', 'url'],
  MSGOPS_CONNECT_TIMEOUT: ['connectTimeout'],
  MSGOPS_REDIS_KEY_PREFIX: ['redis', 'keyPrefix'],
  MSGOPS_MYSQL_PASSWORD_FILE: ['mysql', 'passwordFile'],
  MSGOPS_AMQP_PASSWORD_FILE: ['amqp', 'passwordFile'],
  MSGOPS_REDIS_PASSWORD_FILE: ['redis', 'passwordFile'],
  MSGOPS_MANAGEMENT_PASSWORD_FILE: ['management', 'passwordFile'],
}

const FLAG_KEYS: Record<keyof ConfigOverrides, string[]> = {
  mysqlUrl: ['mysql', 'url'],
  replicaUrl: ['mysql', 'replicaUrl'],
  amqpUrl: ['amqp', 'url'],
  redisUrl: ['redis', 'url'],
  managementUrl: ['management', 'url'],
  connectTimeout: ['connectTimeout'],
}

/** Defaults, then the file, then its profile, then MSGOPS_* variables, then flags: later wins. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const file = findConfigFile(options.configPath ?? env.MSGOPS_CONFIG, cwd, env)
  const layers: {source: Source; where: string; data: Tree}[] = []
  const profileName = options.profile ?? env.MSGOPS_PROFILE
  let profiles: Tree = {}

  if (file) {
    const data = readConfigFile(file)
    const {profiles: rawProfiles, ...base} = data
    if (rawProfiles !== undefined && !isTree(rawProfiles)) throw new ConfigError(`${file}: profiles: expected a map of profile names to settings`)
    profiles = (rawProfiles as Tree | undefined) ?? {}
    layers.push({source: 'file', where: file, data: base})
    for (const [name, body] of Object.entries(profiles)) {
      if (!isTree(body)) throw new ConfigError(`${file}: profiles.${name}: expected a map of settings`)
      // Every profile is checked, not only the selected one: a typo must not wait for the day it is used.
      validate(merge(structuredClone(DEFAULTS) as unknown as Tree, body), `${file}: profiles.${name}.`)
    }
  }

  if (profileName !== undefined) {
    const body = profiles[profileName]
    if (!isTree(body)) {
      const known = Object.keys(profiles)
      throw new ConfigError(
        `profile "${profileName.slice(0, 64)}" is not defined${file ? ` in ${file}` : ' (no configuration file found)'}`,
        known.length > 0 ? `use one of: ${known.join(', ')}` : 'add it under profiles: in the configuration file',
      )
    }
    layers.push({source: 'profile', where: `${file}: profiles.${profileName}`, data: body})
  }

  const envLayer: Tree = {}
  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const value = env[name]
    // A list of replicas in one variable: URLs separated by commas.
    if (value !== undefined && value !== '') setPath(envLayer, path, name === 'MSGOPS_MYSQL_REPLICA_URL' ? listOrOne(value.split(/\s*,\s*(?=mysql:\/\/)/i)) : value)
  }
  if (Object.keys(envLayer).length > 0) layers.push({source: 'env', where: 'environment (MSGOPS_*)', data: envLayer})

  const flagLayer: Tree = {}
  for (const [name, path] of Object.entries(FLAG_KEYS)) {
    const value = options.flags?.[name as keyof ConfigOverrides]
    if (value !== undefined) setPath(flagLayer, path, Array.isArray(value) ? listOrOne(value) : value)
  }
  if (Object.keys(flagLayer).length > 0) layers.push({source: 'flag', where: 'flags', data: flagLayer})

  const sources: Record<string, Source> = {}
  const merged = structuredClone(DEFAULTS) as unknown as Tree
  for (const path of leafPaths(merged)) sources[path] = 'default'
  for (const layer of layers) {
    // Check each layer on its own, so an error names the file or variable it came from.
    validate(merge(structuredClone(DEFAULTS) as unknown as Tree, layer.data), `${layer.where}: `)
    merge(merged, layer.data)
    for (const path of leafPaths(layer.data)) sources[path] = layer.source
  }

  const config = validate(merged, '')
  return {config, sources, file, profile: profileName, profiles: Object.keys(profiles)}
}

/** One URL as itself, several as a list (mysql.replicaUrl takes both). */
function listOrOne(values: string[]): string | string[] {
  return values.length === 1 ? values[0] : values
}

function findConfigFile(explicit: string | undefined, cwd: string, env: NodeJS.ProcessEnv): string | undefined {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit)
    if (!existsSync(path)) throw new ConfigError(`configuration file ${explicit} does not exist`, 'check the --config path')
    if (!statSync(path).isFile()) throw new ConfigError(`configuration file ${explicit} is not a file`, 'check the --config path')
    return path
  }
  const local = resolve(cwd, 'msgops.yaml')
  if (existsSync(local)) return local
  const xdg = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config')
  const user = join(xdg, 'msgops', 'config.yaml')
  return existsSync(user) ? user : undefined
}

function readConfigFile(path: string): Tree {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  if (text.trim() === '') throw new ConfigError(`configuration file ${path} is empty`, 'add settings to it or remove it')
  let data: unknown
  try {
    data = parseYaml(text, {maxAliasCount: 100})
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]
    throw new ConfigError(`configuration file ${path} is not valid YAML: ${message}`)
  }
  if (data === null || data === undefined) throw new ConfigError(`configuration file ${path} is empty`, 'add settings to it or remove it')
  if (!isTree(data)) throw new ConfigError(`configuration file ${path} must hold a map of settings at the top level`)
  return data
}

function validate(data: Tree, where: string): Config {
  // jitless: one parse per process, and zod's JIT compiles a function per object schema first (15-22 ms, 4 without)
  const result = configSchema.safeParse(data, {jitless: true})
  if (result.success) return result.data
  throw new ConfigError(`${where}${describeIssue(result.error.issues[0])}`)
}

/** One line per issue, naming the key path; values are never echoed, since they may be secrets. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('')
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys
    const expected = path === '' ? TOP_LEVEL_KEYS : undefined
    const at = path === '' ? '' : `${path}.`
    return `${keys.map((k) => at + k).join(', ')}: unknown key${expected ? ` (known keys: ${expected.join(', ')})` : ''}`
  }
  if (issue.code === 'invalid_type') return `${path}: expected ${issue.expected}`
  if (issue.code === 'invalid_value') return `${path}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
  if (issue.code === 'invalid_union') return `${path}: expected a string or an integer`
  return `${path}: ${issue.message}`
}

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Deep merge of plain maps into target; arrays and scalars (and null) replace. */
function merge(target: Tree, source: Tree): Tree {
  for (const [key, value] of Object.entries(source)) {
    const current = target[key]
    if (isTree(value) && isTree(current)) merge(current, value)
    else target[key] = value
  }
  return target
}

function leafPaths(tree: Tree, prefix = ''): string[] {
  const out: string[] = []
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (isTree(value)) out.push(...leafPaths(value, path))
    else out.push(path)
  }
  return out
}

function setPath(tree: Tree, path: string[], value: unknown): void {
  let node = tree
  for (const key of path.slice(0, -1)) {
    if (!isTree(node[key])) node[key] = {}
    node = node[key] as Tree
  }
  node[path.at(-1)!] = value
}

/** Leaf values with their source, in a stable order, for `config show`. */
export function flattenConfig(config: Config, sources: Record<string, Source>): {key: string; value: unknown; source: Source}[] {
  return leafPaths(config as unknown as Tree).map((key) => ({
    key,
    value: key.split('.').reduce<unknown>((node, k) => (node as Tree)[k], config),
    source: sources[key] ?? 'default',
  }))
}
