// LevelDB persistence of records, with group commit (one batch per flush) and a quarantine for corrupt entries.
import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { DataDirInUseError, DataDirUnusableError, StoreClosedError } from '../errors.js'
import { STORE_CACHE_BYTES, STORE_WRITE_BUFFER_BYTES } from './constants.js'
import type { StateRecord } from './record.js'
import { toWire } from './wire.js'

type Sublevel = AbstractSublevel<Level<string, string>, string | Uint8Array | Buffer, string, string>

interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * The record store. LevelDB's own lock (released by the kernel when the process dies) is what keeps a
 * second daemon off a data directory: opening a locked store fails with SHOAL_DATA_DIR_IN_USE.
 */
export class RecordStore {
  private pending = new Map<string, string | null>()
  private waiters: Waiter[] = []
  private flushing: Promise<void> | undefined
  private closed = false

  private constructor(
    private readonly db: Level<string, string>,
    private readonly records: Sublevel,
    private readonly quarantined: Sublevel,
  ) {}

  static async open(path: string): Promise<RecordStore> {
    const db = new Level<string, string>(path, {
      valueEncoding: 'utf8',
      // Records live in memory; the store is read once at start, so a big read cache is wasted RAM.
      cacheSize: STORE_CACHE_BYTES,
      writeBufferSize: STORE_WRITE_BUFFER_BYTES,
    })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new DataDirInUseError(`the store at ${path} is locked by another shoal daemon`, { cause: err })
      }
      throw new DataDirUnusableError(`cannot open the store at ${path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    return new RecordStore(
      db,
      db.sublevel<string, string>('r', { valueEncoding: 'utf8' }),
      db.sublevel<string, string>('q', { valueEncoding: 'utf8' }),
    )
  }

  /** Every stored entry as raw text; decoding (and deciding what is corrupt) is the caller's job. */
  async *entries(): AsyncGenerator<[key: string, raw: string]> {
    for await (const entry of this.records.iterator()) yield entry
  }

  /** Moves a corrupt entry aside so it is kept for inspection but never loaded again. */
  async quarantine(key: string, raw: string, reason: string): Promise<void> {
    await this.db.batch([
      {
        type: 'put',
        sublevel: this.quarantined,
        key: `${Date.now()}:${key}`,
        value: JSON.stringify({ reason, raw }),
      },
      { type: 'del', sublevel: this.records, key },
    ])
  }

  async quarantinedCount(): Promise<number> {
    let count = 0
    for await (const _ of this.quarantined.keys()) count++
    return count
  }

  /** Persists records (the newest write per key wins within a flush); resolves once they are on disk. */
  write(records: readonly StateRecord[]): Promise<void> {
    for (const record of records) this.pending.set(record.key, JSON.stringify(toWire(record)))
    return this.enqueue()
  }

  /** Deletes keys for good (used when collecting old tombstones). */
  remove(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.pending.set(key, null)
    return this.enqueue()
  }

  async close(): Promise<void> {
    if (this.closed) return
    await this.flushing
    this.closed = true
    await this.db.close()
  }

  private enqueue(): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError('the record store is closed'))
    const { promise, resolve, reject } = Promise.withResolvers<void>()
    this.waiters.push({ resolve, reject })
    this.flushing ??= this.flushLoop()
    return promise
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.pending
      const waiters = this.waiters
      this.pending = new Map()
      this.waiters = []
      try {
        await this.records.batch(
          [...batch].map(([key, value]) =>
            value === null ? { type: 'del' as const, key } : { type: 'put' as const, key, value },
          ),
        )
        for (const waiter of waiters) waiter.resolve()
      } catch (err) {
        for (const waiter of waiters) waiter.reject(err)
      }
    }
    this.flushing = undefined
  }
}
