import { createHash, randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  BlobChannelServer,
  blobChannelKey,
  fetchBlobRange,
  type RelayPolicy,
} from '../../src/layers/blob-channel.js'
import type { Digest } from '../../src/layers/digest.js'
import { BlobStore } from '../../src/layers/store.js'
import type { Stamp } from '../../src/state/index.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'

const digestOf = (bytes: Buffer): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
const stamp = (wall: number, node = 'n'): Stamp => ({ wall, counter: 0, node })

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

describe('the blob channel', () => {
  const key = blobChannelKey(randomBytes(32))
  let dir: string
  let store: BlobStore
  let server: BlobChannelServer
  let target: { host: string; port: number }
  const asked: Array<Stamp | undefined> = []
  /** This node's own place in every relay chain, for the policy below. */
  const joinedHere = stamp(200)
  const relayAfterUs: RelayPolicy = (_digest, joinedAt) => {
    asked.push(joinedAt)
    return joinedAt !== undefined && joinedAt.wall > joinedHere.wall
  }

  beforeEach(async () => {
    dir = await makeTempDir('shoal-channel-')
    store = new BlobStore(dir, 1024 ** 3, () => new Set())
    await store.open()
    server = new BlobChannelServer(store, key, pino({ level: 'silent' }), relayAfterUs)
    target = { host: '127.0.0.1', port: await server.start('127.0.0.1', 0) }
    asked.length = 0
  })
  afterEach(async () => {
    await server.stop()
    await removeDir(dir)
  })

  it('serves a range of a stored blob to swarm members only', async () => {
    const bytes = randomBytes(300_000)
    const writer = await store.beginWrite(digestOf(bytes), bytes.length)
    await writer.write(bytes)
    await writer.commit()

    const range = await fetchBlobRange(target, key, { digest: digestOf(bytes), offset: 1_000, length: 5_000 })
    expect(range).toMatchObject({ size: bytes.length, length: 5_000 })
    expect((await readAll(range.stream)).equals(bytes.subarray(1_000, 6_000))).toBe(true)
    // A complete blob is anyone's to take: the relay policy is not asked.
    expect(asked).toEqual([])

    const stranger = blobChannelKey(randomBytes(32))
    await expect(fetchBlobRange(target, stranger, { digest: digestOf(bytes), offset: 0 })).rejects.toThrow()
  })

  it('serves many transfer buffers of bytes to several askers at once, each byte right', async () => {
    // 5 MiB + 1: twenty transfer buffers and a tail, more than one response's window of writes in flight.
    const bytes = randomBytes(5 * 1024 * 1024 + 1)
    const digest = digestOf(bytes)
    const writer = await store.beginWrite(digest, bytes.length)
    await writer.write(bytes)
    await writer.commit()

    const ranges = [
      { offset: 0, length: undefined },
      { offset: 123_457, length: 3_000_001 },
      { offset: bytes.length - 10, length: undefined },
      { offset: 262_144, length: 262_144 },
    ]
    const received = await Promise.all(
      ranges.map(async ({ offset, length }) =>
        readAll((await fetchBlobRange(target, key, { digest, offset, length })).stream),
      ),
    )
    ranges.forEach(({ offset, length }, i) => {
      const want = bytes.subarray(offset, length === undefined ? undefined : offset + length)
      expect(received[i]!.equals(want)).toBe(true)
    })
  })

  it('streams a large blob that arrives in uneven pieces, to the last byte', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 777)
    const digest = digestOf(bytes)
    const writer = await store.beginWrite(digest, bytes.length)
    const range = await fetchBlobRange(target, key, { digest, offset: 0, relayJoinedAt: stamp(300) })
    const received = readAll(range.stream)
    for (let at = 0; at < bytes.length; ) {
      const next = Math.min(bytes.length, at + 100_000 + Math.floor(Math.random() * 400_000))
      await writer.write(bytes.subarray(at, next))
      at = next
    }
    await writer.commit()
    expect((await received).equals(bytes)).toBe(true)
  })

  it('passes a blob still arriving on only to relays the policy allows: a chain never closes into a cycle', async () => {
    const bytes = randomBytes(200_000)
    const digest = digestOf(bytes)
    const writer = await store.beginWrite(digest, bytes.length)
    await writer.write(bytes.subarray(0, 50_000))

    // A relay that joined before this node would be streaming from its own follower: refused, with a code.
    await expect(
      fetchBlobRange(target, key, { digest, offset: 0, relayJoinedAt: stamp(100, 'early') }),
    ).rejects.toMatchObject({ code: 'SHOAL_RELAY_ORDER' })
    // So is an asker that says nothing of its place.
    await expect(fetchBlobRange(target, key, { digest, offset: 0 })).rejects.toMatchObject({
      code: 'SHOAL_RELAY_ORDER',
    })

    // A later relay gets the bytes as they land, to the end.
    const later = stamp(300, 'late')
    const range = await fetchBlobRange(target, key, { digest, offset: 0, relayJoinedAt: later })
    const received = readAll(range.stream)
    await writer.write(bytes.subarray(50_000))
    await writer.commit()
    expect((await received).equals(bytes)).toBe(true)
    expect(asked).toEqual([stamp(100, 'early'), undefined, later])
  })
})
