import {spawn} from 'node:child_process'

/** One target's run of a command fanned out over profiles: its own process, connections and exit code. */
export interface ProfileRun {
  profile: string
  code: number
  stdout: string
  stderr: string
}

/**
 * The command line of one profile's run: the parent's arguments without the profile selection, plus `--profile NAME`.
 * `--profile A --profile B`, `--profile=A`, `--all-profiles` and `--concurrency N` (or `=N`) are taken out.
 */
export function profileArgv(argv: readonly string[], profile: string): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--profile' || arg === '--concurrency') {
      i++
      continue
    }
    if (arg.startsWith('--profile=') || arg.startsWith('--concurrency=') || arg === '--all-profiles') continue
    out.push(arg)
  }
  return [...out, '--profile', profile]
}

/** The worst exit code of the runs: an interruption, then an error, then findings, then none. */
export function worstExit(codes: number[]): number {
  return codes.reduce((worst, code) => Math.max(worst, code), 0)
}

/**
 * Runs the command once per profile as its own process (a target that hangs or crashes stays its own), at most
 * `concurrency` at a time, and returns the runs in the profiles' order.
 */
export async function runProfiles(bin: string, commandArgv: string[], profiles: string[], concurrency: number, env: NodeJS.ProcessEnv): Promise<ProfileRun[]> {
  const runs: ProfileRun[] = Array.from({length: profiles.length})
  let next = 0
  const worker = async () => {
    for (let i = next++; i < profiles.length; i = next++) runs[i] = await runOne(bin, profileArgv(commandArgv, profiles[i]), profiles[i], env)
  }
  await Promise.all(Array.from({length: Math.min(concurrency, profiles.length)}, worker))
  return runs
}

function runOne(bin: string, args: string[], profile: string, env: NodeJS.ProcessEnv): Promise<ProfileRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', (error) => resolve({profile, code: 2, stdout, stderr: `${stderr}Error: cannot run msgops for profile ${profile}: ${error.message}\n`}))
    child.on('close', (code, signal) => resolve({profile, code: code ?? (signal === 'SIGINT' ? 130 : 2), stdout, stderr}))
  })
}
