// Reusable transfer buffers: a fresh buffer per chunk of a blob churned V8's external memory and woke its GC.
export class BufferPool {
  private readonly free: Buffer[] = []

  constructor(
    /** Bytes in every buffer of the pool. */
    readonly size: number,
    /** Free buffers kept for reuse; more are left to the GC. */
    private readonly keep: number,
  ) {}

  /** A buffer of `size` bytes, its contents undefined; hand it back with `give` once nothing reads it. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  /** Returns a buffer from `take` (whole, not a slice of it); its bytes may be overwritten at once. */
  give(buffer: Buffer): void {
    if (buffer.length === this.size && this.free.length < this.keep) this.free.push(buffer)
  }
}

/** Bytes in each transfer buffer: both ends of a blob transfer move data in pieces of this size. */
export const TRANSFER_BUFFER_BYTES = 256 * 1024

/** The pool every blob transfer of this process shares: at most 8 MiB kept. */
export const transferBuffers = new BufferPool(TRANSFER_BUFFER_BYTES, 32)
