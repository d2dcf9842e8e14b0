import {constants} from 'node:fs'
import {access, open as openFile, type FileHandle} from 'node:fs/promises'
import {dirname} from 'node:path'
import {gzipSync} from 'node:zlib'

import {OperationError, oneLine, UsageError} from '../errors.js'

/** Where a prune keeps the rows it deletes: durable (written and fsynced) when append resolves. */
export interface RowArchive {
  readonly path: string
  /** Resolves with the file's size before these lines, the mark that truncate() goes back to. */
  append(lines: string[]): Promise<number>
  /** Takes back what was appended after the mark (a chunk whose DELETE was rolled back). */
  truncate(mark: number): Promise<void>
  close(): Promise<void>
}

/**
 * An append-only JSON-lines archive; a name ending in .gz gets one gzip member per chunk (concatenated members are
 * one valid gzip stream for gunzip and zcat), so every fsynced chunk is readable even if a later one was cut short.
 */
export class JsonLinesArchive implements RowArchive {
  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    private readonly gzip: boolean,
  ) {}

  /** Opens (creates) the file for appending, so an unwritable path fails before anything is deleted. */
  static async open(path: string): Promise<JsonLinesArchive> {
    if (path.trim() === '') throw new UsageError('--archive is empty', 'name a file, e.g. --archive /var/backups/outbox-2026-05.jsonl.gz')
    try {
      await access(dirname(path), constants.W_OK)
      const file = await openFile(path, 'a')
      // A probe write of nothing still fails on a read-only mount; a full disk shows at the first chunk, before its DELETE.
      await file.sync()
      return new JsonLinesArchive(path, file, path.endsWith('.gz'))
    } catch (error) {
      throw new UsageError(`cannot write the archive ${path}: ${oneLine((error as NodeJS.ErrnoException).code ?? (error as Error).message)}`, 'check the path, its directory and its permissions; nothing was deleted')
    }
  }

  async append(lines: string[]): Promise<number> {
    const before = (await this.file.stat()).size
    if (lines.length === 0) return before
    const text = lines.join('')
    try {
      const data = this.gzip ? gzipSync(text) : Buffer.from(text, 'utf8')
      let at = 0
      while (at < data.length) at += (await this.file.write(data, at)).bytesWritten
      await this.file.sync()
      return before
    } catch (error) {
      // A chunk cut short by a full disk is taken back out, so the archive never holds rows that were kept.
      await this.file.truncate(before).catch(() => {})
      throw new OperationError(`cannot write the archive ${this.path}: ${oneLine((error as NodeJS.ErrnoException).code ?? (error as Error).message)}`, 'the chunk was rolled back, so no row was deleted without its archive line; free space and run again')
    }
  }

  async truncate(mark: number): Promise<void> {
    await this.file.truncate(mark)
    await this.file.sync()
  }

  async close(): Promise<void> {
    await this.file.close().catch(() => {})
  }
}
