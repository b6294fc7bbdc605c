// The content store: blobs/sha256/<hex>, written under a temporary name and renamed only once the digest checks out.
import { EventEmitter } from 'node:events'
import { createReadStream } from 'node:fs'
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import {
  BlobNotFoundError,
  BlobWriteAbandonedError,
  DigestMismatchError,
  DiskFullError,
  StoreFullError,
} from '../errors.js'
import { type Digest, digestHex, isDigest, newDigester } from './digest.js'

export interface StoredBlob {
  digest: Digest
  size: number
  /** Last time the blob was written or read (ms), for least-recently-used eviction. */
  usedAt: number
}

export interface BlobStoreEvents {
  'blob:writing': [writer: BlobWriter]
  'blob:added': [blob: StoredBlob]
  'blob:removed': [digest: Digest]
}

/**
 * A blob being written. Sequential writes (from an origin or one peer) are hashed as they arrive and can be
 * read by others while they arrive: `written` only grows, and `whenWritten` resolves as bytes land.
 */
export class BlobWriter {
  /** Bytes written: a contiguous prefix when sequential; the sum of ranges written when ranged. */
  written = 0
  private readonly digester = newDigester()
  private readonly waiters: Array<{ offset: number; resolve: () => void; reject: (err: Error) => void }> = []
  private failure: Error | undefined
  private finished = false

  constructor(
    readonly digest: Digest,
    readonly tempPath: string,
    private readonly handle: FileHandle,
    /** Expected size, if the manifest says; used to refuse oversize streams early. */
    readonly expectedSize: number | undefined,
    private readonly onCommit: (writer: BlobWriter) => Promise<StoredBlob>,
    private readonly onAbort: (writer: BlobWriter) => Promise<void>,
    /** Ranged writers take ranges in any order (several peers at once) and are hashed at commit. */
    readonly ranged = false,
    private readonly log?: Logger,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.ranged) throw new TypeError('a ranged writer takes writeAt()')
    if (this.failure !== undefined) throw this.failure
    if (this.expectedSize !== undefined && this.written + chunk.length > this.expectedSize) {
      throw new DigestMismatchError(`${this.digest} is longer than its declared ${this.expectedSize} bytes`)
    }
    // Hash while the write runs on the thread pool: the two overlap instead of taking turns.
    const written = this.handle.write(chunk, 0, chunk.length, this.written)
    this.digester.hash.update(chunk)
    // The chunk is in the digest now: if it did not reach the file, the write cannot go on.
    await written.catch((err: Error) => this.fail(err))
    this.written += chunk.length
    this.wake()
  }

  /** Writes bytes at a position (ranged writers only). */
  async writeAt(position: number, chunk: Uint8Array): Promise<void> {
    if (!this.ranged) throw new TypeError('a sequential writer takes write()')
    if (this.failure !== undefined) throw this.failure
    if (this.expectedSize !== undefined && position + chunk.length > this.expectedSize) {
      throw new DigestMismatchError(`${this.digest} is longer than its declared ${this.expectedSize} bytes`)
    }
    await this.handle.write(chunk, 0, chunk.length, position).catch((err: Error) => this.fail(err))
    this.written += chunk.length
    this.rangeDone(position, position + chunk.length, chunk)
  }

  /** Completed byte ranges of a ranged write, merged, in order. */
  private readonly completed: Array<[start: number, end: number]> = []
  /** Bytes [0, hashedTo) are in the digest already. */
  private hashedTo = 0
  private hashing: Promise<void> | undefined

  /**
   * Hashes a ranged blob while it arrives: bytes at the end of the hashed prefix are hashed from the buffer
   * just written; once a gap fills, the prefix behind it is read back (from the page cache) in the
   * background. Commit then has little left to hash, instead of reading the whole blob again.
   */
  private rangeDone(start: number, end: number, chunk: Uint8Array): void {
    let i = 0
    while (i < this.completed.length && this.completed[i]![1] < start) i++
    let merged: [number, number] = [start, end]
    while (i < this.completed.length && this.completed[i]![0] <= end) {
      const [s, e] = this.completed.splice(i, 1)[0]!
      merged = [Math.min(merged[0], s), Math.max(merged[1], e)]
    }
    this.completed.splice(i, 0, merged)
    if (this.hashing === undefined && start === this.hashedTo) {
      this.digester.hash.update(chunk)
      this.hashedTo = end
    }
    this.hashing ??= this.hashPrefix().finally(() => {
      this.hashing = undefined
    })
  }

  /** The end of the contiguous prefix written so far. */
  private prefixEnd(): number {
    const first = this.completed[0]
    return first !== undefined && first[0] === 0 ? first[1] : 0
  }

  private async hashPrefix(): Promise<void> {
    // Called after every ranged write; most find the prefix hashed already and allocate nothing.
    if (this.hashedTo >= this.prefixEnd()) return
    const buffer = Buffer.allocUnsafe(Math.min(1024 * 1024, this.prefixEnd() - this.hashedTo))
    while (this.hashedTo < this.prefixEnd()) {
      const length = Math.min(buffer.length, this.prefixEnd() - this.hashedTo)
      const { bytesRead } = await this.handle.read(buffer, 0, length, this.hashedTo)
      if (bytesRead === 0) break
      this.digester.hash.update(buffer.subarray(0, bytesRead))
      this.hashedTo += bytesRead
    }
  }

  /** Resolves once at least `offset` bytes are written (or the blob is complete); rejects if it is aborted. */
  whenWritten(offset: number): Promise<void> {
    if (this.written >= offset || this.finished) return Promise.resolve()
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => this.waiters.push({ offset, resolve, reject }))
  }

  get done(): boolean {
    return this.finished
  }

  /** True once the write was abandoned (nothing more can be written). */
  get aborted(): boolean {
    return this.failure !== undefined
  }

  /** Checks the digest and moves the blob into the store; on a mismatch nothing is kept. */
  async commit(): Promise<StoredBlob> {
    if (this.ranged) {
      while (this.hashing !== undefined) await this.hashing
      await this.hashPrefix()
    }
    await this.handle.close()
    const complete = !this.ranged || this.hashedTo === (this.expectedSize ?? this.hashedTo)
    const actual = complete ? this.digester.digest() : 'sha256:(ranges missing)'
    if (actual !== this.digest) {
      const err = new DigestMismatchError(`expected ${this.digest}, got ${actual} (${this.written} bytes)`)
      await this.abort(err)
      throw err
    }
    const blob = await this.onCommit(this)
    this.finished = true
    this.wake()
    return blob
  }

  /** A write to the file failed: the download is abandoned (its file removed) and the reason thrown. */
  private async fail(err: Error): Promise<never> {
    const reason = diskError(err, `writing ${this.digest}`)
    await this.abort(reason)
    throw reason
  }

  async abort(reason: Error = new BlobWriteAbandonedError('download abandoned')): Promise<void> {
    if (this.finished || this.failure !== undefined) return
    this.failure = reason
    await this.handle.close().catch((err: Error) => {
      // The file is removed next: a handle that will not close (its write failed, most likely) loses nothing.
      this.log?.debug({ digest: this.digest, err: err.message }, 'could not close an abandoned blob file')
    })
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason)
    await this.onAbort(this)
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i]!
      if (this.finished || this.written >= waiter.offset) {
        this.waiters.splice(i, 1)
        waiter.resolve()
      }
    }
  }
}

export class BlobStore extends EventEmitter<BlobStoreEvents> {
  private readonly blobs = new Map<Digest, StoredBlob>()
  private readonly writing = new Map<Digest, BlobWriter>()
  private readonly blobDir: string
  private readonly tempDir: string
  private tempCounter = 0
  private totalBytes = 0

  constructor(
    root: string,
    private readonly maxBytes: number,
    /** Blobs that images in the local index use: never evicted. */
    private readonly referenced: () => ReadonlySet<Digest>,
    /** Notes (at debug) the housekeeping failures nobody waits on: eviction, use times, closing a dropped file. */
    private readonly log?: Logger,
  ) {
    super()
    this.setMaxListeners(0)
    this.blobDir = join(root, 'sha256')
    this.tempDir = join(root, 'tmp')
  }

  /** Creates the directories, removes what a killed daemon left half-written, and indexes the blobs. */
  async open(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true, mode: 0o700 })
    await rm(this.tempDir, { recursive: true, force: true })
    await mkdir(this.tempDir, { recursive: true, mode: 0o700 })
    for (const name of await readdir(this.blobDir)) {
      const digest = `sha256:${name}`
      if (!isDigest(digest)) continue
      const info = await stat(join(this.blobDir, name))
      this.index({ digest, size: info.size, usedAt: info.mtimeMs })
    }
  }

  has(digest: Digest): boolean {
    return this.blobs.has(digest)
  }

  get(digest: Digest): StoredBlob | undefined {
    return this.blobs.get(digest)
  }

  list(): StoredBlob[] {
    return [...this.blobs.values()]
  }

  usedBytes(): number {
    return this.totalBytes
  }

  /** The file of a complete blob; the digest was parsed, so this path is inside the store. */
  pathOf(digest: Digest): string {
    return join(this.blobDir, digestHex(digest))
  }

  /** The download in progress for a digest, if any (its bytes can be read as they arrive). */
  writerOf(digest: Digest): BlobWriter | undefined {
    return this.writing.get(digest)
  }

  /** Starts writing a blob under a temporary name; one writer per digest at a time. */
  async beginWrite(
    digest: Digest,
    expectedSize?: number,
    options: { ranged?: boolean } = {},
  ): Promise<BlobWriter> {
    if (this.writing.has(digest)) throw new TypeError(`${digest} is already being written`)
    if (expectedSize !== undefined) this.makeRoom(expectedSize)
    const tempPath = join(this.tempDir, `${digestHex(digest)}.${process.pid}.${this.tempCounter++}`)
    // Read access too: ranged writes hash what they wrote as the prefix fills in.
    const handle = await open(tempPath, 'w+', 0o600).catch((err: Error) => {
      throw diskError(err, `starting ${digest}`)
    })
    const writer = new BlobWriter(
      digest,
      tempPath,
      handle,
      expectedSize,
      (w) => this.commit(w),
      async (w) => {
        this.writing.delete(w.digest)
        await rm(w.tempPath, { force: true })
      },
      options.ranged === true,
      this.log,
    )
    this.writing.set(digest, writer)
    this.emit('blob:writing', writer)
    return writer
  }

  private async commit(writer: BlobWriter): Promise<StoredBlob> {
    this.writing.delete(writer.digest)
    await rename(writer.tempPath, this.pathOf(writer.digest))
    const blob = { digest: writer.digest, size: writer.written, usedAt: Date.now() }
    this.index(blob)
    this.emit('blob:added', blob)
    return blob
  }

  /** Opens a complete blob's file for reading (and counts it as used). */
  async openBlob(digest: Digest): Promise<FileHandle> {
    this.use(digest)
    return open(this.pathOf(digest), 'r')
  }

  /** Reads `[start, end)` of a complete blob. */
  read(digest: Digest, start = 0, end?: number): Readable {
    const blob = this.use(digest)
    const last = Math.min(end ?? blob.size, blob.size) - 1
    return createReadStream(this.pathOf(digest), {
      start,
      end: Math.max(start, last),
      highWaterMark: 1024 * 1024,
    })
  }

  /** A complete blob about to be read, counted as used; SHOAL_BLOB_NOT_FOUND if the store lacks it. */
  private use(digest: Digest): StoredBlob {
    const blob = this.blobs.get(digest)
    if (blob === undefined) throw new BlobNotFoundError(`${digest} is not in the store`)
    this.touch(blob)
    return blob
  }

  async remove(digest: Digest): Promise<void> {
    const blob = this.blobs.get(digest)
    if (blob === undefined) return
    this.blobs.delete(digest)
    this.totalBytes -= blob.size
    await rm(this.pathOf(digest), { force: true })
    this.emit('blob:removed', digest)
  }

  /**
   * Evicts unreferenced blobs, least recently used first, until `bytes` more fit under the cap; refuses with
   * SHOAL_STORE_FULL if even that is not enough.
   */
  makeRoom(bytes: number): Digest[] {
    const referenced = this.referenced()
    const evicted: Digest[] = []
    if (this.totalBytes + bytes <= this.maxBytes) return evicted
    const candidates = [...this.blobs.values()]
      .filter((blob) => !referenced.has(blob.digest))
      .sort((a, b) => a.usedAt - b.usedAt)
    for (const blob of candidates) {
      if (this.totalBytes + bytes <= this.maxBytes) break
      evicted.push(blob.digest)
      this.blobs.delete(blob.digest)
      this.totalBytes -= blob.size
      rm(this.pathOf(blob.digest), { force: true }).catch((err: Error) =>
        // Out of the index already; a file left behind is indexed again (and evictable) at the next start.
        this.log?.debug({ digest: blob.digest, err: err.message }, 'could not remove an evicted blob'),
      )
      this.emit('blob:removed', blob.digest)
    }
    if (this.totalBytes + bytes > this.maxBytes) {
      throw new StoreFullError(
        `the store needs ${bytes} more bytes but holds ${this.totalBytes} of ${this.maxBytes} in blobs that images use (--store-max)`,
      )
    }
    return evicted
  }

  /** Resolves once the blob is complete or being written here, or false after `timeoutMs`. */
  whenAvailable(digest: Digest, timeoutMs: number): Promise<boolean> {
    if (this.blobs.has(digest) || this.writing.has(digest)) return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (found: boolean): void => {
        clearTimeout(timer)
        this.off('blob:writing', onWriting)
        this.off('blob:added', onAdded)
        resolve(found)
      }
      const onWriting = (writer: BlobWriter): void => {
        if (writer.digest === digest) done(true)
      }
      const onAdded = (blob: StoredBlob): void => {
        if (blob.digest === digest) done(true)
      }
      const timer = setTimeout(() => done(false), timeoutMs)
      this.on('blob:writing', onWriting)
      this.on('blob:added', onAdded)
    })
  }

  /** Abandons every download in progress (daemon stop). */
  async close(): Promise<void> {
    await Promise.all(
      [...this.writing.values()].map((writer) =>
        writer.abort(new BlobWriteAbandonedError('daemon stopping')),
      ),
    )
  }

  private index(blob: StoredBlob): void {
    const previous = this.blobs.get(blob.digest)
    if (previous !== undefined) this.totalBytes -= previous.size
    this.blobs.set(blob.digest, blob)
    this.totalBytes += blob.size
  }

  private touch(blob: StoredBlob): void {
    blob.usedAt = Date.now()
    const seconds = blob.usedAt / 1000
    utimes(this.pathOf(blob.digest), seconds, seconds).catch((err: NodeJS.ErrnoException) => {
      // Removed (evicted) since: nothing left to mark.
      if (err.code === 'ENOENT') return
      // The time orders eviction only after a restart: a blob not marked here is evicted a little sooner.
      this.log?.debug({ digest: blob.digest, err: err.message }, 'could not mark a blob as used')
    })
  }
}

/** A full filesystem (or quota) becomes SHOAL_DISK_FULL; any other error is passed on as it is. */
function diskError(err: Error, doing: string): Error {
  const code = (err as NodeJS.ErrnoException).code
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return err
  return new DiskFullError(`no space left on the disk that holds the blob store (${doing})`, { cause: err })
}
