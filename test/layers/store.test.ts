import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Digest } from '../../src/layers/digest.js'
import { BlobStore } from '../../src/layers/store.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const digestOf = (bytes: Buffer): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

describe('the content store', () => {
  let dir: string
  beforeEach(async () => {
    dir = await makeTempDir('shoal-store-')
  })
  afterEach(async () => removeDir(dir))

  it('keeps a blob only once its digest checks out, and nothing of one that does not', async () => {
    const store = new BlobStore(dir, 1024 ** 3, () => new Set())
    await store.open()
    const good = randomBytes(100_000)
    const writer = await store.beginWrite(digestOf(good), good.length)
    await writer.write(good.subarray(0, 50_000))
    await writer.write(good.subarray(50_000))
    await writer.commit()
    expect(store.has(digestOf(good))).toBe(true)

    const claimed = digestOf(randomBytes(10))
    const liar = await store.beginWrite(claimed, 1_000)
    await liar.write(randomBytes(1_000))
    await expect(liar.commit()).rejects.toMatchObject({ code: 'SHOAL_DIGEST_MISMATCH' })
    expect(store.has(claimed)).toBe(false)
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(await readdir(join(dir, 'sha256'))).toEqual([digestOf(good).slice(7)])
  })

  it('takes ranges in any order, hashing as the prefix fills, and verifies them at commit', async () => {
    const store = new BlobStore(dir, 1024 ** 3, () => new Set())
    await store.open()
    const blob = randomBytes(3_000_000)
    const writer = await store.beginWrite(digestOf(blob), blob.length, { ranged: true })
    // Out of order, in uneven pieces, some concurrently.
    await writer.writeAt(2_000_000, blob.subarray(2_000_000))
    await Promise.all([
      writer.writeAt(1_000_000, blob.subarray(1_000_000, 2_000_000)),
      writer.writeAt(0, blob.subarray(0, 400_000)),
    ])
    await writer.writeAt(400_000, blob.subarray(400_000, 1_000_000))
    await writer.commit()
    expect(store.has(digestOf(blob))).toBe(true)

    const other = randomBytes(2_000_000)
    const bad = await store.beginWrite(digestOf(other), other.length, { ranged: true })
    await bad.writeAt(1_000_000, other.subarray(1_000_000))
    await bad.writeAt(0, randomBytes(1_000_000))
    await expect(bad.commit()).rejects.toMatchObject({ code: 'SHOAL_DIGEST_MISMATCH' })
    const missing = await store.beginWrite(digestOf(other), other.length, { ranged: true })
    await missing.writeAt(0, other.subarray(0, 1_000_000))
    await expect(missing.commit()).rejects.toMatchObject({ code: 'SHOAL_DIGEST_MISMATCH' })
    expect(store.has(digestOf(other))).toBe(false)
  })

  it('refuses more bytes than the manifest declared', async () => {
    const store = new BlobStore(dir, 1024 ** 3, () => new Set())
    await store.open()
    const writer = await store.beginWrite(digestOf(Buffer.from('x')), 10)
    await expect(writer.write(randomBytes(11))).rejects.toMatchObject({ code: 'SHOAL_DIGEST_MISMATCH' })
    await writer.abort()
  })

  it('evicts unreferenced blobs least recently used first, and refuses when images use everything', async () => {
    const referenced = new Set<Digest>()
    const store = new BlobStore(dir, 250_000, () => referenced)
    await store.open()
    const put = async (bytes: Buffer): Promise<Digest> => {
      const writer = await store.beginWrite(digestOf(bytes), bytes.length)
      await writer.write(bytes)
      await writer.commit()
      return digestOf(bytes)
    }
    const old = await put(randomBytes(100_000))
    await new Promise((resolve) => setTimeout(resolve, 5))
    const kept = await put(randomBytes(100_000))
    referenced.add(kept)
    const fresh = await put(randomBytes(100_000))
    expect(store.has(old)).toBe(false)
    expect(store.has(kept)).toBe(true)
    expect(store.has(fresh)).toBe(true)
    referenced.add(fresh)
    await expect(store.beginWrite(digestOf(randomBytes(5)), 100_000)).rejects.toMatchObject({
      code: 'SHOAL_STORE_FULL',
    })
  })

  it('sweeps away half-written downloads left by a killed daemon when it opens', async () => {
    const first = new BlobStore(dir, 1024 ** 3, () => new Set())
    await first.open()
    const writer = await first.beginWrite(digestOf(Buffer.from('never finished')), 1_000)
    await writer.write(randomBytes(500))
    // No commit, no abort: the process "dies" here.
    const second = new BlobStore(dir, 1024 ** 3, () => new Set())
    await second.open()
    expect(await readdir(join(dir, 'tmp'))).toEqual([])
    expect(second.list()).toEqual([])
  })
})
