import {Command, Flags, type Interfaces} from '@oclif/core'

import {Services} from './adapters/services.js'
import {loadConfig, type LoadedConfig} from './config/load.js'
import type {Config} from './config/schema.js'
import {writeAudit} from './core/audit.js'
import {parseDuration} from './core/duration.js'
import {EXIT, exitCodeFor, InterruptedError, MsgopsError, oneLine, UsageError} from './core/errors.js'
import {acquireLock, type HeldLock} from './core/lock.js'
import {maskSecrets} from './core/mask.js'
import {suggestFlag} from './core/suggest.js'
import {confirmChange} from './render/prompt.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

const GLOBAL = 'GLOBAL'

/**
 * What every msgops command shares: global flags, configuration, connections closed at the end,
 * SIGINT handling, and the one mapping from errors to exit codes and one-line messages.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    config: Flags.string({char: 'c', description: 'configuration file (default ./msgops.yaml, then $XDG_CONFIG_HOME/msgops/config.yaml)', helpGroup: GLOBAL}),
    profile: Flags.string({description: 'profile of the configuration file to use', helpGroup: GLOBAL}),
    'mysql-url': Flags.string({description: 'MySQL URL, e.g. mysql://user:pass@host:3306/db', helpGroup: GLOBAL}),
    'amqp-url': Flags.string({description: 'RabbitMQ AMQP URL, e.g. amqp://user:pass@host:5672/vhost', helpGroup: GLOBAL}),
    'redis-url': Flags.string({description: 'Redis URL, e.g. redis://host:6379/0', helpGroup: GLOBAL}),
    'management-url': Flags.string({description: 'RabbitMQ management API URL, e.g. http://user:pass@host:15672', helpGroup: GLOBAL}),
    'connect-timeout': Flags.string({description: 'how long to wait for each service to answer, e.g. 5s', helpGroup: GLOBAL}),
    verbose: Flags.boolean({description: 'show the stack trace of an error', helpGroup: GLOBAL}),
  }

  /** Commands that stop at a safe point on SIGINT set this; the others are stopped by closing their connections. */
  static graceful = false

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  protected loaded!: LoadedConfig
  protected services!: Services
  private readonly interrupt = new AbortController()
  private readonly locks: HeldLock[] = []
  private readonly onSigint = () => this.handleSigint()

  /** Aborted on SIGINT; long operations check it between batches. */
  protected get signal(): AbortSignal {
    return this.interrupt.signal
  }

  protected get settings(): Config {
    return this.loaded.config
  }

  public override async init(): Promise<void> {
    await super.init()
    process.on('SIGINT', this.onSigint)
    const {args, flags} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.loaded = loadConfig({
      configPath: this.flags.config,
      profile: this.flags.profile,
      flags: {
        mysqlUrl: this.flags['mysql-url'],
        amqpUrl: this.flags['amqp-url'],
        redisUrl: this.flags['redis-url'],
        managementUrl: this.flags['management-url'],
        connectTimeout: this.flags['connect-timeout'],
      },
    })
    this.services = new Services(this.loaded.config)
  }

  /** Asks before a change; refuses without a terminal unless --yes. */
  protected async confirm(question: string, yes: boolean): Promise<boolean> {
    if (this.jsonEnabled() && !yes)
      throw new UsageError('this command changes state and --json leaves no room to ask', 'pass --yes to confirm, or --dry-run to see what it would do')
    return confirmChange({question, yes})
  }

  /** Takes a Redis lock named after the work, held until the command ends. */
  protected async lock(name: string, waitFlag?: string): Promise<HeldLock> {
    const redis = await this.services.redis()
    const held = await acquireLock(redis, `${this.settings.redis.keyPrefix}lock:${name}`, {
      command: this.id ?? 'msgops',
      waitMs: waitFlag ? parseDuration(waitFlag, '--wait-lock') : 0,
      signal: this.signal,
    })
    this.locks.push(held)
    return held
  }

  /** Records a state-changing run in the audit table. */
  protected async audit(outcome: Record<string, unknown>, exitCode: number = EXIT.ok): Promise<void> {
    const sql = await this.services.mysql()
    await writeAudit(sql, this.settings.audit.table, {command: this.id ?? 'msgops', argv: this.argv, outcome, exitCode})
  }

  /** Exit 1: the command worked and found something. */
  protected found(something: boolean): void {
    if (something && (process.exitCode === undefined || process.exitCode === 0)) process.exitCode = EXIT.found
  }

  /** Human output only: with --json, oclif prints the returned result instead (a function is not even called). */
  protected print(text: string | (() => string)): void {
    if (!this.jsonEnabled()) this.log(typeof text === 'string' ? text : text())
  }

  /** Without a JSON colour theme, the text oclif would print, without tokenizing a large report for no colour at all. */
  override logJson(json: unknown): void {
    if (this.config.theme?.json) super.logJson(json)
    else process.stdout.write(`${JSON.stringify(json, null, 2)}\n`)
  }

  /** Diagnostics go to stderr, so stdout stays data. */
  protected note(text: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${text}\n`)
  }

  private handleSigint(): void {
    if (this.interrupt.signal.aborted) {
      process.stderr.write('interrupted again: stopping now\n')
      process.exit(EXIT.interrupted)
    }
    this.interrupt.abort(new InterruptedError())
    const graceful = (this.ctor as unknown as typeof BaseCommand).graceful
    process.stderr.write(graceful ? 'interrupted: finishing the batch in hand, then stopping (Ctrl-C again to stop now)\n' : 'interrupted: stopping\n')
    if (!graceful) void this.services?.close()
  }

  public override async catch(error: Error & {oclif?: {exit?: number}; code?: string}): Promise<void> {
    // A parse error was handled here; oclif must not also warn that the command never parsed.
    ;(this as unknown as {parsed: boolean}).parsed = true
    const interrupted = this.interrupt.signal.aborted
    let code = interrupted ? EXIT.interrupted : exitCodeFor(error)
    let message = interrupted && !(error instanceof MsgopsError && error.kind !== 'interrupted') ? 'interrupted' : error.message
    let suggestion = error instanceof MsgopsError ? error.suggestion : undefined
    if (!(error instanceof MsgopsError) && error.oclif) {
      // oclif's own parse errors (unknown flag, missing argument): usage errors.
      code = error.oclif.exit === 0 ? 0 : EXIT.error
      message = message.split('\n')[0].replace(/^Error: /, '')
      suggestion = suggestFlag((error as {flags?: unknown}).flags, ['json', ...Object.keys({...BaseCommand.baseFlags, ...this.ctor.flags})]) ?? 'see --help'
      if (error.code === 'EEXIT') {
        process.exitCode = error.oclif.exit ?? 0
        return
      }
    } else if (!(error instanceof MsgopsError) && !interrupted) {
      message = `unexpected error: ${message}`
      suggestion = 'run again with --verbose for the stack trace, and report it'
    }
    const line = maskSecrets(oneLine(suggestion ? `${message}; ${suggestion}` : message))
    process.exitCode = code
    if (this.jsonEnabled?.())
      process.stdout.write(`${JSON.stringify({error: {kind: error instanceof MsgopsError ? error.kind : 'internal', message: maskSecrets(oneLine(message)), suggestion, exitCode: code}}, null, 2)}\n`)
    process.stderr.write(`Error: ${line}\n`)
    if (this.argv.includes('--verbose') && error.stack) process.stderr.write(`${maskSecrets(error.stack)}\n`)
  }

  public override async finally(error: Error | undefined): Promise<void> {
    process.removeListener('SIGINT', this.onSigint)
    await Promise.all(this.locks.map((l) => l.release().catch(() => {})))
    await this.services?.close()
    if (this.interrupt.signal.aborted) process.exitCode = EXIT.interrupted
    return super.finally(error)
  }
}
