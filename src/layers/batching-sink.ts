// A Writable that hands bytes on in batches: one file write per ~256 KiB instead of one per 16 KiB TLS record.
import { Writable } from 'node:stream'

export const BATCH_BYTES = 256 * 1024

export class BatchingSink extends Writable {
  private pending: Buffer[] = []
  private pendingBytes = 0

  constructor(
    private readonly flushBatch: (batch: Buffer) => Promise<void>,
    /** Called with every chunk as it arrives (a stall watchdog; the source stream itself is left alone). */
    private readonly onChunk?: () => void,
  ) {
    super({ highWaterMark: BATCH_BYTES })
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.onChunk?.()
    this.pending.push(chunk)
    this.pendingBytes += chunk.length
    if (this.pendingBytes < BATCH_BYTES) {
      callback()
      return
    }
    this.flush().then(() => callback(), callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush().then(() => callback(), callback)
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return
    const batch =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    await this.flushBatch(batch)
  }
}
