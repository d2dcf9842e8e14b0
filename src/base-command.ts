import {Command, Flags, type Interfaces} from '@oclif/core'

import {Services} from './adapters/services.js'
import {loadConfig, type LoadedConfig} from './config/load.js'
import type {Config} from './config/schema.js'
import {withSecrets} from './config/secrets.js'
import {queueKind} from './adapters/management.js'
import {writeAudit} from './core/audit.js'
import {deliveryLimitRisk} from './core/dlq/delivery-limit.js'
import {vhostOfAmqpUrl} from './core/amqp-url.js'
import {parseDuration} from './core/duration.js'
import {ConnectionError, EXIT, exitCodeFor, InterruptedError, MsgopsError, oneLine, UsageError} from './core/errors.js'
import {acquireLock, type HeldLock, lockRegistry} from './core/lock.js'
import {requirePrivileges} from './core/privileges.js'
import {maskSecrets} from './core/mask.js'
import {type Outcome, OUTCOME_EXIT} from './core/outcome.js'
import type {ProgressCallback} from './core/ports.js'
import {colorEnabled} from './render/color.js'
import {parseErrorLine} from './render/parse-error.js'
import {profilesJson, renderProfiles} from './render/profiles.js'
import {terminalWidth} from './render/table.js'
import {runProfiles, worstExit} from './profiles.js'
import {notice, progressBar} from './render/progress.js'
import {confirmChange, requireConfirmable} from './render/prompt.js'
import {describeTarget, type Service} from './render/target.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

const GLOBAL = 'GLOBAL'

/**
 * What stops a run like Ctrl-C does (Kubernetes and systemd send SIGTERM), with the exit code 128 + the signal's number;
 * SIGPIPE stands for the reader of stdout having gone (EPIPE: `msgops outbox status --watch 1 | head -2`).
 */
const STOP_SIGNALS = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129, SIGPIPE: 141} as const
type StopSignal = keyof typeof STOP_SIGNALS
const PROCESS_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** What a state-changing run is given by change(): its stop signal, its progress bar and its one confirmation. */
export interface ChangeContext {
  /** Aborted on SIGINT/SIGTERM or when the lock is lost: stop between batches. */
  readonly signal: AbortSignal
  readonly progress: ProgressCallback
  /** Asks (unless --yes or a dry run), then takes the lock; false when the person declined. Call it once. */
  confirm(question: string): Promise<boolean>
  /** A service named for the question: "RabbitMQ mq:5672 vhost /". */
  target(service: Service): string
  /** Human output in the middle of the run (what a question is about): the progress bar ends first. */
  show(text: () => string): void
}

/** How a state-changing command runs: the skeleton that change() follows for every one of them. */
export interface ChangePlan<R> {
  yes: boolean
  /** A dry run asks nothing and writes no audit record (the command leaves out the lock where it needs none). */
  dryRun?: boolean
  /** The Redis lock, taken after the person answered (an unanswered prompt blocks nobody); 'first' takes it at once. */
  lock?: {name: string; wait?: string; when?: 'first' | 'after-confirm'}
  /** Refuse at once when nobody could confirm, instead of after a long read (reconcile --fix). */
  refuseEarly?: boolean
  /** The MySQL grants it needs (a key of COMMAND_NEEDS): refused before anything changes when the user lacks one. */
  needs?: string
  /** The label of the progress bar (none when not given). */
  progress?: string
  work(ctx: ChangeContext): Promise<R>
  outcome(result: R): Outcome
  /** Human output of the result (none when empty), printed before an error about the lost lock. */
  render?(result: R): string | undefined
  /** The audit record's outcome; none when not given. */
  audit?(result: R): Record<string, unknown>
  /** What the audit record of a failed run adds to the error (what was done before it). */
  auditError?(error: Error): Record<string, unknown>
  /** An error to end with (exit 2) after the result was shown and audited: the run stopped early. */
  failure?(result: R): Error | undefined
}

/**
 * What every msgops command shares: global flags, configuration, connections closed at the end,
 * signal handling, the skeleton of state-changing runs (change()), and the one mapping from outcomes and
 * errors to exit codes and one-line messages.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    config: Flags.string({char: 'c', description: 'configuration file (default ./msgops.yaml, then $XDG_CONFIG_HOME/msgops/config.yaml)', helpGroup: GLOBAL}),
    profile: Flags.string({description: 'profile of the configuration file to use; repeatable where a command runs over several targets', helpGroup: GLOBAL, multiple: true}),
    'all-profiles': Flags.boolean({description: 'run over every profile of the configuration file (doctor, outbox status, reconcile, trace, topology plan)', helpGroup: GLOBAL}),
    concurrency: Flags.integer({description: 'with several profiles: how many targets run at once', helpGroup: GLOBAL, default: 4, min: 1, max: 64}),
    'mysql-url': Flags.string({description: 'MySQL URL, e.g. mysql://user:pass@host:3306/db', helpGroup: GLOBAL}),
    'replica-url': Flags.string({description: 'MySQL read replica URL (repeatable): read-only work reads it, writes and final checks stay on --mysql-url', helpGroup: GLOBAL, multiple: true}),
    'amqp-url': Flags.string({description: 'RabbitMQ AMQP URL, e.g. amqp://user:pass@host:5672/vhost', helpGroup: GLOBAL}),
    'redis-url': Flags.string({description: 'Redis URL, e.g. redis://host:6379/0', helpGroup: GLOBAL}),
    'management-url': Flags.string({description: 'RabbitMQ management API URL, e.g. http://user:pass@host:15672', helpGroup: GLOBAL}),
    'connect-timeout': Flags.string({description: 'how long to wait for each service to answer, e.g. 5s', helpGroup: GLOBAL}),
    verbose: Flags.boolean({description: 'show the stack trace of an error', helpGroup: GLOBAL}),
  }

  /**
   * What a command finishes before it stops on SIGINT or SIGTERM ("the batch in hand"); false: it is stopped at once
   * by closing its connections.
   */
  static graceful: string | false = false

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  protected loaded!: LoadedConfig
  protected services!: Services
  private readonly interrupt = new AbortController()
  private stoppedBy?: StopSignal
  private readonly locks: HeldLock[] = []
  private readonly onSignal = (signal: StopSignal) => this.handleSignal(signal)
  private readonly onStdoutError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') this.handleSignal('SIGPIPE')
  }

  /** Aborted on SIGINT, SIGTERM or SIGHUP; long operations check it between batches. */
  protected get signal(): AbortSignal {
    return this.interrupt.signal
  }

  protected get settings(): Config {
    return this.loaded.config
  }

  public override async init(): Promise<void> {
    await super.init()
    for (const signal of PROCESS_SIGNALS) process.on(signal, this.onSignal)
    process.stdout.on('error', this.onStdoutError)
    let parsed
    try {
      parsed = await this.parse({
        flags: this.ctor.flags,
        baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
        enableJsonFlag: this.ctor.enableJsonFlag,
        args: this.ctor.args,
        strict: this.ctor.strict,
      })
    } catch (error) {
      const known = ['json', 'help', ...Object.keys({...(super.ctor as typeof BaseCommand).baseFlags, ...this.ctor.flags})]
      throw parseFailure(error, known, this.id ?? '')
    }
    this.flags = parsed.flags as BaseFlags<T>
    this.args = parsed.args as BaseArgs<T>
    const profiles = this.flags.profile ?? []
    const fanned = this.flags['all-profiles'] || profiles.length > 1
    this.loaded = loadConfig({
      configPath: this.flags.config,
      profile: fanned ? undefined : profiles[0],
      flags: {
        mysqlUrl: this.flags['mysql-url'],
        replicaUrl: this.flags['replica-url'],
        amqpUrl: this.flags['amqp-url'],
        redisUrl: this.flags['redis-url'],
        managementUrl: this.flags['management-url'],
        connectTimeout: this.flags['connect-timeout'],
      },
    })
    // Passwords from MSGOPS_*_PASSWORD or a passwordFile go into the URLs the connections use, never into output.
    this.services = new Services(withSecrets(this.loaded.config, process.env))
    if (fanned) this.fanOut(this.flags['all-profiles'] ? this.loaded.profiles : profiles)
  }

  /** Commands that may run over several targets at once (--profile repeated, --all-profiles). */
  static multiProfile = false

  /** Several profiles: this run becomes their runs side by side, each its own process, and their sections and summary. */
  private fanOut(names: string[]): void {
    const id = this.id?.replaceAll(':', ' ') ?? 'msgops'
    if (!(this.ctor as unknown as typeof BaseCommand).multiProfile)
      throw new UsageError(`msgops ${id} runs against one target; --profile was given ${names.length} times`, 'give one --profile (several work with doctor, outbox status, reconcile, trace and topology plan)')
    const known = new Set(this.loaded.profiles)
    const unknown = names.find((n) => !known.has(n))
    if (unknown !== undefined) throw new UsageError(`profile "${unknown.slice(0, 64)}" is not defined${this.loaded.file ? ` in ${this.loaded.file}` : ''}`, `use some of: ${[...known].join(', ') || '(none defined)'}`)
    if (names.length === 0) throw new UsageError('--all-profiles: the configuration file defines no profiles', 'add them under profiles:, or leave out --all-profiles')
    const env = {...process.env, ...(colorEnabled() ? {FORCE_COLOR: '1'} : {}), COLUMNS: String(terminalWidth())}
    // The instance's run() is replaced: the command's own runs in each child process.
    this.run = async () => {
      const runs = await runProfiles(process.argv[1], [...(this.id ?? '').split(':'), ...this.argv], names, this.flags.concurrency, env)
      process.exitCode = worstExit(runs.map((r) => r.code))
      if (this.jsonEnabled()) return profilesJson(runs)
      for (const run of runs) for (const line of run.stderr.split('\n').filter((l) => l.trim() !== '')) process.stderr.write(`[${run.profile}] ${line}\n`)
      this.log(renderProfiles(id, runs))
      return profilesJson(runs)
    }
  }

  /** Asks before a change; refuses without a terminal, or with --json, unless --yes. */
  protected async confirm(question: string, yes: boolean): Promise<boolean> {
    return confirmChange({question, yes, json: this.jsonEnabled()})
  }

  /** The services a change reaches, named for its question: "MySQL db:3306/shop to RabbitMQ mq:5672 vhost /". */
  protected target(service: Service): string {
    return describeTarget(this.settings, service)
  }

  /**
   * The skeleton of every state-changing run: refuse early if asked, lock (first or after the answer), one stop signal
   * for SIGINT and a lost lock, a progress bar stopped whatever happens, an audit record on error and on success,
   * the human output, and the exit code of the outcome.
   */
  protected async change<R>(plan: ChangePlan<R>): Promise<R> {
    if (plan.refuseEarly && !plan.dryRun) requireConfirmable({yes: plan.yes, json: this.jsonEnabled()})
    if (plan.needs && !plan.dryRun) await requirePrivileges(await this.services.mysql(), this.settings, plan.needs)
    const stop = new AbortController()
    const follow = (signal: AbortSignal) => {
      if (signal.aborted) stop.abort(signal.reason)
      else signal.addEventListener('abort', () => stop.abort(signal.reason), {once: true})
    }
    follow(this.signal)
    let held: HeldLock | undefined
    const takeLock = async () => {
      if (!plan.lock) return
      held = await this.lock(plan.lock.name, plan.lock.wait)
      follow(held.lost)
    }
    if (plan.lock?.when === 'first') await takeLock()
    let confirmed = false
    const bar = progressBar(plan.progress ?? '', plan.progress !== undefined && !this.jsonEnabled())
    const ctx: ChangeContext = {
      signal: stop.signal,
      progress: bar.update,
      confirm: async (question) => {
        bar.stop()
        if (!plan.dryRun && !(await this.confirm(question, plan.yes))) {
          this.note('cancelled: nothing was changed')
          return false
        }
        if (plan.lock?.when !== 'first') await takeLock()
        confirmed = true
        return true
      },
      target: (service) => this.target(service),
      show: (text) => {
        bar.stop()
        this.print(text)
      },
    }
    let result: R
    try {
      result = await plan.work(ctx)
    } catch (error) {
      bar.stop()
      if (confirmed && !plan.dryRun && plan.audit)
        // Unwritten, it is left: the run's own error says why, and it is often the MySQL that could not take the record.
        await this.audit({...plan.auditError?.(error as Error), error: maskSecrets((error as Error).message)}, EXIT.error).catch(() => {})
      throw error
    }
    bar.stop()
    const outcome = plan.outcome(result)
    const text = plan.render && !this.jsonEnabled() ? plan.render(result) : undefined
    if (text) this.log(text)
    const failure = held?.lost.aborted ? (held.lost.reason as Error) : plan.failure?.(result)
    if (confirmed && !plan.dryRun && outcome !== 'cancelled' && plan.audit)
      await this.audit(failure ? {...plan.audit(result), error: failure.message} : plan.audit(result), failure ? EXIT.error : this.exitFor(outcome))
    if (failure) throw failure
    this.conclude(outcome)
    return result
  }

  /**
   * Refuses to read a quorum queue with a delivery limit by hold-and-return (each read spends a delivery of every message,
   * and past the limit RabbitMQ drops or dead-letters it), unless allowed; says when it could not tell.
   */
  protected async guardDeliveries(queue: string, allow: boolean): Promise<void> {
    const risk = deliveryLimitRisk(await queueKind(this.services.management(), vhostOfAmqpUrl(this.settings.amqp.url), queue), queue)
    if (risk.refuse && !allow) throw new UsageError(risk.refuse, 'pass --allow-deliveries to read it anyway, or raise or remove its delivery limit first')
    if (risk.refuse) this.note(`warning: ${risk.refuse}`)
  }

  /** Takes a Redis lock named after the work, held until the command ends. */
  protected async lock(name: string, waitFlag?: string): Promise<HeldLock> {
    const redis = await this.services.redis()
    const held = await acquireLock(redis, `${this.settings.redis.keyPrefix}lock:${name}`, {
      command: this.id ?? 'msgops',
      waitMs: waitFlag ? parseDuration(waitFlag, '--wait-lock') : 0,
      signal: this.signal,
      registry: lockRegistry(this.settings.redis.keyPrefix),
    })
    this.locks.push(held)
    return held
  }

  /** Records a state-changing run in the audit table. */
  protected async audit(outcome: Record<string, unknown>, exitCode: number = EXIT.ok): Promise<void> {
    const sql = await this.services.mysql()
    await writeAudit(sql, this.settings.audit.table, {command: this.id ?? 'msgops', argv: this.argv, outcome, exitCode})
  }

  /** The exit code of an outcome (a stop signal's own code for an interrupted run). */
  private exitFor(outcome: Outcome): number {
    return outcome === 'interrupted' ? STOP_SIGNALS[this.stoppedBy ?? 'SIGINT'] : OUTCOME_EXIT[outcome]
  }

  /** Sets the exit code of a run that did not fail; a worse one already set is kept. */
  protected conclude(outcome: Outcome): void {
    const code = this.exitFor(outcome)
    if (code > (typeof process.exitCode === 'number' ? process.exitCode : 0)) process.exitCode = code
  }

  /** Exit 1: the command worked and found something. */
  protected found(something: boolean): void {
    this.conclude(something ? 'found' : 'ok')
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

  /** Diagnostics go to stderr, so stdout stays data; above a running progress bar, not over it. */
  protected note(text: string): void {
    if (!this.jsonEnabled()) notice(text)
  }

  private handleSignal(signal: StopSignal): void {
    if (this.interrupt.signal.aborted) {
      if (signal === 'SIGPIPE') return
      notice(`${signal === 'SIGINT' ? 'interrupted again' : `${signal} again`}: stopping now`)
      process.exit(STOP_SIGNALS[signal])
    }
    this.stoppedBy = signal
    const why = signal === 'SIGINT' ? 'interrupted' : signal === 'SIGPIPE' ? 'the reader of the output has gone' : `stopped by ${signal}`
    this.interrupt.abort(new InterruptedError(why))
    const graceful = (this.ctor as unknown as typeof BaseCommand).graceful
    // Nobody reads a closed pipe's notice: stderr may still be a terminal, so it says why once, quietly for a reader.
    if (signal === 'SIGPIPE') {
      if (graceful) notice(`${why}: finishing ${graceful}, then stopping`)
    } else {
      const what = signal === 'SIGINT' ? 'interrupted' : signal
      notice(graceful ? `${what}: finishing ${graceful}, then stopping (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to stop now)` : `${what}: stopping`)
    }
    if (!graceful) void this.services?.close()
  }

  public override async catch(error: Error & {oclif?: {exit?: number}; code?: string}): Promise<void> {
    // A parse error was handled here; oclif must not also warn that the command never parsed.
    ;(this as unknown as {parsed: boolean}).parsed = true
    // A lock lost while the process was paused explains the timeouts that followed: its line, not theirs.
    for (const held of this.locks) held.checkExpired()
    const lost = this.locks.find((l) => l.lost.aborted)?.lost.reason
    if (lost instanceof MsgopsError && error !== lost) error = lost
    const interrupted = this.interrupt.signal.aborted
    let code = interrupted ? STOP_SIGNALS[this.stoppedBy ?? 'SIGINT'] : exitCodeFor(error)
    let message = interrupted && !(error instanceof MsgopsError && error.kind !== 'interrupted') ? (this.interrupt.signal.reason as Error).message : error.message
    let suggestion = error instanceof MsgopsError ? error.suggestion : undefined
    if (!(error instanceof MsgopsError) && error.oclif) {
      if (error.code === 'EEXIT') {
        process.exitCode = error.oclif.exit ?? 0
        return
      }
      code = error.oclif.exit === 0 ? 0 : EXIT.error
      message = message.split('\n')[0].replace(/^Error: /, '')
      suggestion = 'see --help'
    } else if (!(error instanceof MsgopsError) && !interrupted) {
      message = `unexpected error: ${message}`
      suggestion = 'run again with --verbose for the stack trace, and report it'
    }
    const line = maskSecrets(oneLine(suggestion ? `${message}; ${suggestion}` : message))
    process.exitCode = code
    if (this.jsonEnabled?.())
      process.stdout.write(`${JSON.stringify({
        error: {kind: error instanceof MsgopsError ? error.kind : 'internal', message: maskSecrets(oneLine(message)), suggestion, exitCode: code},
        ...(error instanceof MsgopsError && error.result !== undefined ? {result: error.result} : {}),
      }, null, 2)}\n`)
    notice(`Error: ${line}`)
    if (this.argv.includes('--verbose') && error.stack) process.stderr.write(`${maskSecrets(error.stack)}\n`)
  }

  public override async finally(error: Error | undefined): Promise<void> {
    for (const signal of PROCESS_SIGNALS) process.removeListener(signal, this.onSignal)
    await Promise.all(this.locks.map((l) => l.release().catch(() => {})))
    await this.services?.close()
    if (this.interrupt.signal.aborted) process.exitCode = STOP_SIGNALS[this.stoppedBy ?? 'SIGINT']
    return super.finally(error)
  }
}

/** An oclif parse error as a usage error of one line that keeps its reason (and suggests the flag meant). */
function parseFailure(error: unknown, knownFlags: string[], command: string): unknown {
  const e = error as {oclif?: unknown; message?: string; flags?: string[]; args?: never[]; code?: string}
  if (!e?.oclif || e.code === 'EEXIT' || typeof e.message !== 'string') return error
  const {message, suggestion} = parseErrorLine({message: e.message, flags: e.flags, args: e.args}, knownFlags, command.replaceAll(':', ' '))
  return new MsgopsError('usage', message, suggestion, {cause: error})
}
