import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it, onTestFinished} from 'vitest'

import {RUN_JS, runCli} from '../helpers/env.js'
import {closeTerminals, openShell} from '../helpers/terminal.js'

afterAll(closeTerminals)

/** Typos, help and version, on the built CLI; none of them reaches a service. */
describe('mistyped commands', () => {
  it('names the command typed and the nearest one, in space form, exit 2, one line', async () => {
    const r = await runCli(['outbx', 'status'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('Error: "msgops outbx status" is not a msgops command; did you mean "msgops outbox status"?\n')
    expect(r.stdout).toBe('')
  })

  it('keeps the arguments and flags out of the command and in the suggestion', async () => {
    const r = await runCli(['dlq', 'inspet', 'order_queue.dlq', '--max', '3'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('Error: "msgops dlq inspet order_queue.dlq --max 3" is not a msgops command; did you mean "msgops dlq inspect order_queue.dlq --max 3"?\n')
    expect(r.stderr).not.toMatch(/dlq:inspet/)
  })

  it('without a near command, points at help', async () => {
    const r = await runCli(['frobnicate'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('Error: "msgops frobnicate" is not a msgops command; run "msgops help" for the list of commands\n')
  })

  it('with --json, the error is also JSON on stdout', async () => {
    const r = await runCli(['reconcle', '--json'])
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout)).toEqual({error: {kind: 'usage', message: '"msgops reconcle --json" is not a msgops command', suggestion: 'did you mean "msgops reconcile --json"?', exitCode: 2}})
  })
})

describe('mistyped flags', () => {
  it('--limt: one line with "did you mean --limit?", exit 2, no stack', async () => {
    const r = await runCli(['outbox', 'list', '--limt', '5'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('Error: unknown flag --limt; did you mean --limit?\n')
  })

  it('global flags and --json are suggested too; a flag like none keeps "see --help"', async () => {
    expect((await runCli(['doctor', '--verbse'])).stderr).toBe('Error: unknown flag --verbse; did you mean --verbose?\n')
    expect((await runCli(['doctor', '--jsn'])).stderr).toBe('Error: unknown flag --jsn; did you mean --json?\n')
    const none = await runCli(['doctor', '--zzzzzz'])
    expect(none.code).toBe(2)
    expect(none.stderr).toBe('Error: unknown flag --zzzzzz; see `msgops doctor --help`\n')
  })
})

describe('help and version', () => {
  it('help TOPIC COMMAND shows that command\'s help', async () => {
    const r = await runCli(['help', 'outbox', 'drain'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Publish .*\n\nUSAGE\n {2}\$ msgops outbox drain /)
  })

  it('help TOPIC lists its commands', async () => {
    const r = await runCli(['help', 'dlq'])
    expect(r.code).toBe(0)
    for (const c of ['dlq inspect', 'dlq purge', 'dlq replay']) expect(r.stdout).toContain(c)
  })

  it('-h is --help, for the CLI and for a command', async () => {
    const root = await runCli(['-h'])
    expect(root.code).toBe(0)
    expect(root.stdout).toMatch(/USAGE\n {2}\$ msgops \[COMMAND\]/)
    expect(root.stdout).toMatch(/TOPICS[\s\S]*outbox/)
    const command = await runCli(['outbox', 'drain', '-h'])
    expect(command.code).toBe(0)
    expect(command.stdout).toBe((await runCli(['outbox', 'drain', '--help'])).stdout)
  })

  it('version and --version print the version; version --json as JSON', async () => {
    const {version} = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}
    for (const args of [['version'], ['--version']]) {
      const r = await runCli(args)
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^msgops/${version.replaceAll('.', '\\.')} \\S+ node-v\\d+`))
    }
    const json = await runCli(['version', '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({cliVersion: `msgops/${version}`})
  })
})

describe('shell completion', () => {
  it('autocomplete prints the setup for bash, zsh and powershell and names the commands in its scripts', async () => {
    const home = mkdtempSync(join(tmpdir(), 'msgops-ac-'))
    onTestFinished(() => rmSync(home, {recursive: true, force: true}))
    for (const shell of ['bash', 'zsh', 'powershell']) {
      const r = await runCli(['autocomplete', shell], {env: {HOME: home, XDG_CACHE_HOME: join(home, '.cache')}})
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/msgops autocomplete script/)
    }
    const bash = readFileSync(join(home, '.cache/msgops/autocomplete/functions/bash/msgops.bash'), 'utf8')
    expect(bash).toMatch(/^outbox:drain .*--limit/m)
    expect(readFileSync(join(home, '.cache/msgops/autocomplete/functions/zsh/_msgops'), 'utf8')).toMatch(/outbox/)
    expect(readFileSync(join(home, '.cache/msgops/autocomplete/functions/powershell/msgops.ps1'), 'utf8')).toMatch(/outbox/)
  })

  it('completes a topic, a command and a flag in a real bash (tmux)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'msgops-ac-bash-'))
    onTestFinished(() => rmSync(home, {recursive: true, force: true}))
    const bin = join(home, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'msgops'), `#!/bin/sh\nexec '${process.execPath}' '${RUN_JS}' "$@"\n`)
    chmodSync(join(bin, 'msgops'), 0o755)
    const env = {HOME: home, XDG_CACHE_HOME: join(home, '.cache'), PATH: `${bin}:${process.env.PATH}`}
    // What README.md tells a bash user: \`msgops autocomplete bash\` (builds the cache), then its line in ~/.bashrc.
    expect((await runCli(['autocomplete', 'bash'], {env})).code).toBe(0)
    const setup = await runCli(['autocomplete', 'script', 'bash'], {env})
    expect(setup.code).toBe(0)
    writeFileSync(join(home, '.bashrc'), `PS1='$ '\n${setup.stdout.trim()}\n`)
    const terminal = openShell(`env -i HOME='${home}' XDG_CACHE_HOME='${env.XDG_CACHE_HOME}' PATH='${env.PATH}' TERM=xterm bash --rcfile '${home}/.bashrc' -i`)
    try {
      await terminal.waitFor(/^\$ $/m)
      terminal.keys('msgops outb', 'Tab')
      await terminal.waitFor(/^\$ msgops outbox $/m)
      terminal.keys('dr', 'Tab')
      await terminal.waitFor(/^\$ msgops outbox drain $/m)
      terminal.keys('--lim', 'Tab')
      await terminal.waitFor(/^\$ msgops outbox drain --limit $/m)
    } finally {
      terminal.close()
    }
  })
})
