import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {cacheDirectory, vendorFile} from '../../src/compile-cache.js'
import {runCli} from '../helpers/env.js'

const made: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'msgops-cc-'))
  made.push(dir)
  return dir
}

afterAll(() => {
  for (const dir of made) rmSync(dir, {recursive: true, force: true})
})

// `config show` loads zod and yaml from the vendored bundle and needs no service.
const run = (env: Record<string, string>) => runCli(['config', 'show', '--json'], {env})
const caches = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.v8'))

describe('the code cache of the vendored libraries (Node 20)', () => {
  it('is written by the first run, read by the next without being rewritten, and the output is the same', async () => {
    const dir = tempDir()
    const first = await run({MSGOPS_CACHE_DIR: dir})
    expect(first.code).toBe(0)
    const [file] = caches(dir)
    expect(file).toMatch(new RegExp(`^vendor-[0-9a-f]{12}\\.cjs-${process.version}-${process.arch}\\.v8$`))
    const written = statSync(join(dir, file))
    expect(written.size).toBeGreaterThan(100_000)
    const second = await run({MSGOPS_CACHE_DIR: dir})
    expect(second.code).toBe(0)
    expect(second.stdout).toBe(first.stdout)
    expect(statSync(join(dir, file)).mtimeMs).toBe(written.mtimeMs)
    expect(readdirSync(dir)).toEqual([file]) // no temporary file left behind
  })

  it('a new cache removes other builds\' caches unused for a day, and keeps the recent ones and other files', async () => {
    const dir = tempDir()
    const old = join(dir, `vendor-000000000000.cjs-${process.version}-${process.arch}.v8`)
    const recent = join(dir, `vendor-111111111111.cjs-${process.version}-${process.arch}.v8`)
    for (const f of [old, recent, join(dir, 'notes.txt')]) writeFileSync(f, 'x')
    utimesSync(old, new Date(Date.now() - 25 * 3600_000), new Date(Date.now() - 25 * 3600_000))
    expect((await run({MSGOPS_CACHE_DIR: dir})).code).toBe(0)
    const left = readdirSync(dir)
    expect(left).not.toContain(basename(old))
    expect(left).toContain(basename(recent))
    expect(left).toContain('notes.txt')
    expect(caches(dir)).toHaveLength(2)
  })

  it('a corrupt cache is rejected by V8, the run still works, and the cache is written again', async () => {
    const dir = tempDir()
    expect((await run({MSGOPS_CACHE_DIR: dir})).code).toBe(0)
    const [file] = caches(dir)
    const size = statSync(join(dir, file)).size
    writeFileSync(join(dir, file), Buffer.alloc(size, 7))
    const again = await run({MSGOPS_CACHE_DIR: dir})
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toBeTypeOf('object')
    const rewritten = readFileSync(join(dir, file))
    expect(rewritten.equals(Buffer.alloc(size, 7))).toBe(false)
  })

  it('an unwritable cache directory and MSGOPS_COMPILE_CACHE=0 leave the run as it was, writing nothing', async () => {
    const parent = tempDir()
    writeFileSync(join(parent, 'file'), '') // a cache directory under a file cannot be made, even by root
    const unwritable = await run({MSGOPS_CACHE_DIR: join(parent, 'file', 'cache')})
    expect(unwritable.code).toBe(0)
    expect(unwritable.stderr).toBe('')
    expect(readdirSync(parent)).toEqual(['file'])
    const off = tempDir()
    const plain = await run({MSGOPS_CACHE_DIR: off, MSGOPS_COMPILE_CACHE: '0'})
    expect(plain.code).toBe(0)
    expect(readdirSync(off)).toEqual([])
  })

  it('finds its directory and the bundle as documented', () => {
    expect(cacheDirectory({MSGOPS_CACHE_DIR: '/x'})).toBe('/x')
    expect(cacheDirectory({XDG_CACHE_HOME: '/c'})).toBe('/c/msgops')
    expect(vendorFile('file:///opt/dist/app/dist/chunks/chunk-A.js', 'vendor-1.cjs')).toBe('/opt/dist/app/dist/vendor-1.cjs')
    expect(vendorFile('file:///opt/app/dist/commands/outbox/drain.js', 'vendor-1.cjs')).toBe('/opt/app/dist/vendor-1.cjs')
    expect(() => vendorFile('file:///opt/app/src/x.js', 'v.cjs')).toThrow(/not under a dist/)
  })
})
