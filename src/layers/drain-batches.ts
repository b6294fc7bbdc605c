// Drains a byte stream in batches: one file write per ~256 KiB instead of one per 16 KiB TLS record.
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { TRANSFER_BUFFER_BYTES, transferBuffers } from './buffer-pool.js'

export const BATCH_BYTES = TRANSFER_BUFFER_BYTES
/** Bytes waiting for their write before the source is paused: the socket keeps flowing while one is written. */
const QUEUED_BYTES_MAX = 4 * BATCH_BYTES
/**
 * A batch that is not full is written at most this long after its first byte came. A relay serves what it has
 * written, so at a slow stream's pace a full batch's wait would be each hop's delay down a relay chain (256 KiB
 * at 1 MB/s: 260 ms a hop); a fast stream fills its batches sooner.
 */
export const BATCH_MAX_DELAY_MS = 20

/**
 * Reads `source` to its end and hands its bytes to `flushBatch` in order, one batch at a time. Chunks are
 * gathered into a pooled buffer until the next would not fit (up to BATCH_BYTES), or until the batch's first
 * byte is BATCH_MAX_DELAY_MS old; a chunk larger than that is a batch of its own. The batch is lent:
 * `flushBatch` must not keep it once its promise settles (copy it to keep it), because the buffer then carries
 * the next batch. A 'data' listener rather than a Writable in a pipeline: with 16 KiB TLS records the
 * Writable's per-chunk bookkeeping was a measurable part of a blob transfer. `onChunk` is called with every
 * chunk (a stall watchdog). Rejects with the first error of the source or of a flush (the source is destroyed
 * then), or if the source closes before its end (as `pipeline` would: `finished` knows each kind of stream's
 * end); every byte the source delivered before it failed has been flushed by then.
 */
export async function drainInBatches(
  source: Readable,
  flushBatch: (batch: Buffer) => Promise<void>,
  onChunk?: () => void,
): Promise<void> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let queuedBytes = 0
  let writing: Promise<void> = Promise.resolve()
  let ended = false
  let paused = false
  let lateFlush: NodeJS.Timeout | undefined
  // A partial batch goes out when it is due, unless the source is paused for writes (they are behind anyway).
  const flushWhenDue = (): void => {
    lateFlush ??= setTimeout(() => {
      lateFlush = undefined
      if (!paused) flush()
    }, BATCH_MAX_DELAY_MS)
  }

  const flush = (): void => {
    clearTimeout(lateFlush)
    lateFlush = undefined
    if (pendingBytes === 0) return
    const pooled = pending.length === 1 ? undefined : transferBuffers.take()
    const batch = pooled === undefined ? pending[0]! : gather(pending, pooled, pendingBytes)
    pending = []
    pendingBytes = 0
    queuedBytes += batch.length
    if (queuedBytes >= QUEUED_BYTES_MAX) {
      paused = true
      source.pause()
    }
    writing = writing.then(async () => {
      try {
        await flushBatch(batch)
      } finally {
        if (pooled !== undefined) transferBuffers.give(pooled)
      }
      queuedBytes -= batch.length
      if (queuedBytes < QUEUED_BYTES_MAX && !ended && paused) {
        paused = false
        source.resume()
        if (pendingBytes > 0) flushWhenDue()
      }
    })
    // A failed write ends the transfer: the source is destroyed with its error, which `finished` reports.
    writing.catch((err: Error) => source.destroy(err))
  }
  source.on('data', (chunk: Buffer) => {
    onChunk?.()
    if (pendingBytes + chunk.length > BATCH_BYTES) flush()
    pending.push(chunk)
    pendingBytes += chunk.length
    if (pendingBytes >= BATCH_BYTES) flush()
    else flushWhenDue()
  })
  source.resume()
  try {
    await finished(source, { writable: false })
  } catch (err) {
    // The source failed: what it sent is still written (a resumed transfer goes on after it), and a write
    // that failed first is the better reason.
    ended = true
    flush()
    await writing
    throw err
  }
  ended = true
  flush()
  await writing
}

/** Copies `chunks` (`bytes` in all, no more than the buffer holds) into `into`; the filled part of it. */
function gather(chunks: readonly Buffer[], into: Buffer, bytes: number): Buffer {
  let at = 0
  for (const chunk of chunks) at += chunk.copy(into, at)
  return into.subarray(0, bytes)
}
