// Drains a byte stream in batches: one file write per ~256 KiB instead of one per 16 KiB TLS record.
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'

export const BATCH_BYTES = 256 * 1024
/** Bytes waiting for their write before the source is paused: the socket keeps flowing while one is written. */
const QUEUED_BYTES_MAX = 4 * BATCH_BYTES

/**
 * Reads `source` to its end and hands its bytes to `flushBatch` in order, one batch at a time. A 'data'
 * listener rather than a Writable in a pipeline: with 16 KiB TLS records the Writable's per-chunk bookkeeping
 * was a measurable part of a blob transfer. `onChunk` is called with every chunk (a stall watchdog). Rejects
 * with the first error of the source or of a flush (the source is destroyed then), or if the source closes
 * before its end (as `pipeline` would: `finished` knows each kind of stream's end).
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

  const flush = (): void => {
    if (pendingBytes === 0) return
    const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
    pending = []
    pendingBytes = 0
    queuedBytes += batch.length
    if (queuedBytes >= QUEUED_BYTES_MAX) source.pause()
    writing = writing.then(async () => {
      await flushBatch(batch)
      queuedBytes -= batch.length
      if (queuedBytes < QUEUED_BYTES_MAX && !ended) source.resume()
    })
    // A failed write ends the transfer: the source is destroyed with its error, which `finished` reports.
    writing.catch((err: Error) => source.destroy(err))
  }
  source.on('data', (chunk: Buffer) => {
    onChunk?.()
    pending.push(chunk)
    pendingBytes += chunk.length
    if (pendingBytes >= BATCH_BYTES) flush()
  })
  source.resume()
  try {
    await finished(source, { writable: false })
  } catch (err) {
    // The source failed; a write that failed first is the better reason.
    await writing
    throw err
  }
  ended = true
  flush()
  await writing
}
