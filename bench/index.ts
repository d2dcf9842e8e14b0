/**
 * `npm run bench -- NAME [options]` runs bench/NAME.ts; with no name it lists them.
 * Each benchmark measures the raw limit in the same run and prints its figures as ratios against it.
 */
import {readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const available = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'index.ts' && !f.startsWith('_')).map((f) => f.replace(/\.ts$/, ''))
const [name, ...rest] = process.argv.slice(2)
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join('|') || 'none yet'}> [options]\n`)
  process.exit(name ? 2 : 0)
}
const bench = (await import(`./${name}.ts`)) as {main(args: string[]): Promise<void>}
await bench.main(rest)
