// drainInBatches: order, batch sizes, backpressure while a batch is written, and every way a transfer can end badly.
import { randomBytes } from 'node:crypto'
import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { BATCH_BYTES, BATCH_MAX_DELAY_MS, drainInBatches } from '../../src/layers/drain-batches.js'
import { sleep, waitFor } from '../helpers/wait.js'

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = []
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size))
  return chunks
}

describe('drainInBatches', () => {
  it('hands every byte on in order, in full batches of BATCH_BYTES but the last', async () => {
    const bytes = randomBytes(3 * BATCH_BYTES + 12_345)
    const batches: Buffer[] = []
    let chunks = 0
    await drainInBatches(
      Readable.from(chunksOf(bytes, 16 * 1024)),
      async (batch) => {
        await sleep(1)
        // A batch is lent until its flush settles: the buffer carries a later batch then.
        batches.push(Buffer.from(batch))
      },
      () => chunks++,
    )
    expect(Buffer.concat(batches).equals(bytes)).toBe(true)
    for (const batch of batches.slice(0, -1)) expect(batch.length).toBe(BATCH_BYTES)
    expect(chunks).toBe(Math.ceil(bytes.length / (16 * 1024)))
  })

  it('never makes a batch larger than BATCH_BYTES from several chunks; a larger chunk is a batch of its own', async () => {
    const sizes = [100_000, 100_000, 100_000, BATCH_BYTES + 1, 7, 60_000]
    const chunks = sizes.map((size) => randomBytes(size))
    const batches: Buffer[] = []
    await drainInBatches(Readable.from(chunks), async (batch) => {
      batches.push(Buffer.from(batch))
    })
    expect(Buffer.concat(batches).equals(Buffer.concat(chunks))).toBe(true)
    expect(batches.map((batch) => batch.length)).toEqual([200_000, 100_000, BATCH_BYTES + 1, 60_007])
  })

  it('writes a batch that is not full once it is due, while the source goes on slowly', async () => {
    // A relay serves what it has written: at a slow stream's pace the next hop must not wait for 256 KiB.
    const source = new PassThrough()
    const flushed: Array<{ bytes: number; at: number }> = []
    const done = drainInBatches(source, async (batch) => {
      flushed.push({ bytes: batch.length, at: performance.now() })
    })
    const sentAt = performance.now()
    source.write(randomBytes(16 * 1024))
    await waitFor('the partial batch', () => flushed.length === 1, { timeoutMs: 2_000, intervalMs: 5 })
    expect(flushed[0]!.bytes).toBe(16 * 1024)
    expect(flushed[0]!.at - sentAt).toBeGreaterThanOrEqual(BATCH_MAX_DELAY_MS - 2)
    source.write(randomBytes(1_000))
    source.end(randomBytes(2_000))
    await done
    expect(flushed.map((batch) => batch.bytes)).toEqual([16 * 1024, 3_000])
  })

  it('pauses the source while writes fall behind, and resumes it', async () => {
    const source = new PassThrough()
    let release: () => void = () => {}
    const blocked = new Promise<void>((resolve) => {
      release = resolve
    })
    let flushed = 0
    const done = drainInBatches(source, async (batch) => {
      await blocked
      flushed += batch.length
    })
    for (let i = 0; i < 8; i++) source.write(Buffer.alloc(BATCH_BYTES))
    await sleep(20)
    expect(source.isPaused()).toBe(true)
    release()
    source.end()
    await done
    expect(flushed).toBe(8 * BATCH_BYTES)
  })

  it('rejects with a failed write and destroys the source', async () => {
    const source = new PassThrough()
    const done = drainInBatches(source, async () => {
      throw Object.assign(new Error('disk full'), { code: 'ENOSPC' })
    })
    source.write(Buffer.alloc(BATCH_BYTES))
    await expect(done).rejects.toThrow('disk full')
    expect(source.destroyed).toBe(true)
  })

  it('rejects with the source error once every byte that came before it is written', async () => {
    const source = new PassThrough()
    const written: Buffer[] = []
    const done = drainInBatches(source, async (batch) => {
      written.push(Buffer.from(batch))
    })
    const bytes = randomBytes(BATCH_BYTES + 1_000)
    source.write(bytes.subarray(0, 70_000))
    source.write(bytes.subarray(70_000))
    await sleep(10)
    source.destroy(new Error('connection reset'))
    await expect(done).rejects.toThrow('connection reset')
    // A transfer resumed after the failure goes on from exactly here.
    expect(Buffer.concat(written).equals(bytes)).toBe(true)
  })

  it('rejects when the source closes before its end, as pipeline would', async () => {
    const source = new PassThrough()
    const done = drainInBatches(source, async () => {})
    source.write(Buffer.alloc(10))
    source.destroy()
    await expect(done).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' })
  })
})
