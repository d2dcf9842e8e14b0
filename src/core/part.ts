import {UsageError} from './errors.js'

/** One of N disjoint parts of a run (1-based), for side-by-side processes: cron on several hosts, a Kubernetes Indexed Job. */
export interface Part {
  index: number
  count: number
}

/**
 * The part a run takes, from --part I/N, or --parts N with the index a Kubernetes Indexed Job sets.
 *
 * | --part | --parts | $JOB_COMPLETION_INDEX | part                                             |
 * | ------ | ------- | --------------------- | ------------------------------------------------ |
 * | -      | -       | any                   | none (the whole run)                              |
 * | I/N    | -       | any                   | I of N (1 ≤ I ≤ N ≤ 1024, else a usage error)     |
 * | I/N    | N       | any                   | a usage error: one or the other                   |
 * | -      | N       | K (0-based)           | K+1 of N (K < N, else a usage error)              |
 * | -      | N       | unset or not a number | a usage error naming the variable                 |
 */
export function parsePart(part: string | undefined, parts: number | undefined, env: NodeJS.ProcessEnv = process.env): Part | undefined {
  if (part !== undefined && parts !== undefined) throw new UsageError('--part and --parts cannot be combined', 'use --part I/N, or --parts N with $JOB_COMPLETION_INDEX set')
  if (part !== undefined) {
    const match = /^\s*(\d{1,4})\s*\/\s*(\d{1,4})\s*$/.exec(part)
    const [index, count] = match ? [Number(match[1]), Number(match[2])] : [Number.NaN, Number.NaN]
    if (!match || index < 1 || count < 1 || index > count || count > 1024) throw new UsageError(`--part ${part} is not a part`, 'use I/N with 1 ≤ I ≤ N ≤ 1024, e.g. --part 2/4')
    return {index, count}
  }
  if (parts === undefined) return undefined
  if (!Number.isInteger(parts) || parts < 1 || parts > 1024) throw new UsageError(`--parts ${parts} is out of range`, 'use 1 to 1024')
  const raw = env.JOB_COMPLETION_INDEX
  if (raw === undefined || !/^\d+$/.test(raw.trim()))
    throw new UsageError('--parts needs $JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job) to say which part this is', 'run it in an Indexed Job, or use --part I/N')
  const index = Number(raw) + 1
  if (index > parts) throw new UsageError(`$JOB_COMPLETION_INDEX ${raw} is not below --parts ${parts}`, 'set the Job\'s completions to --parts')
  return {index, count: parts}
}

/** "2/4": the part as the lock name, metrics label and messages spell it. */
export function partName(part: Part): string {
  return `${part.index}/${part.count}`
}
