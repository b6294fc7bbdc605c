// One blob's fetch across routes: a failed route's bytes kept and resumed, dropped on a mismatch, a full disk, giving up.
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { promisify } from 'node:util'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BlobChannelServer, blobChannelKey, fetchBlobRange } from '../../src/layers/blob-channel.js'
import { BlobFetch, type Tally } from '../../src/layers/blob-fetch.js'
import type { Digest } from '../../src/layers/digest.js'
import { hostPlatform } from '../../src/layers/manifest.js'
import type { PeerEndpoint, PullEvent, PullSources } from '../../src/layers/pull-types.js'
import { parseReference } from '../../src/layers/reference.js'
import { RegistryClient } from '../../src/layers/registry-client.js'
import { RegistryConfig } from '../../src/layers/registry-config.js'
import { BlobStore } from '../../src/layers/store.js'
import type { Stamp } from '../../src/state/index.js'
import {
  type CountedOrigin,
  type CountingProxy,
  startCountedOrigin,
  type TestImage,
} from '../helpers/registry.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const MiB = 1024 * 1024
const run = promisify(execFile)
const key = blobChannelKey(randomBytes(32))
const silent = pino({ level: 'silent' })
const digestOf = (bytes: Buffer): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
const joinedAt: Stamp = { wall: 100, counter: 0, node: 'relay' }

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** A node's store with its blob channel: a peer to stream from, or the node under test. */
interface Peer {
  dir: string
  store: BlobStore
  server: BlobChannelServer
  endpoint: PeerEndpoint
}

async function startPeer(name: string): Promise<Peer> {
  const dir = await makeTempDir(`shoal-fetch-${name}-`)
  const store = new BlobStore(dir, 1024 ** 3, () => new Set())
  await store.open()
  const server = new BlobChannelServer(store, key, silent, () => true)
  const port = await server.start('127.0.0.1', 0)
  return { dir, store, server, endpoint: { peer: name, host: '127.0.0.1', port } }
}

async function stopPeer(peer: Peer | undefined): Promise<void> {
  if (peer === undefined) return
  await peer.server.stop()
  await peer.store.close()
  await removeDir(peer.dir)
}

async function storeWhole(store: BlobStore, bytes: Buffer): Promise<void> {
  const writer = await store.beginWrite(digestOf(bytes), bytes.length)
  await writer.write(bytes)
  await writer.commit()
}

/** Sources with no mesh behind them: a claimant chosen by the test, and a record of what was asked. */
function testSources(options: {
  claimant?: () => PeerEndpoint | undefined
  mayClaim?: boolean
  /** The relay the chain now puts between the upstream and this node (joining streams from it too). */
  closer?: () => PeerEndpoint | undefined
  /** Another node fetching from the origin under an earlier claim. */
  earlierFetcher?: () => string | undefined
}) {
  const asked = { joins: 0, avoided: [] as string[][], bad: [] as string[], releases: 0 }
  const sources: PullSources = {
    holders: () => [],
    claimant: () => options.claimant?.(),
    joinRelay: async (_digest, _size, claimant, avoid) => {
      asked.joins++
      asked.avoided.push([...avoid])
      return { from: options.closer?.() ?? claimant, joinedAt }
    },
    earlierFetcher: () => options.earlierFetcher?.(),
    closerUpstream: (_digest, current) => {
      const closer = options.closer?.()
      return closer?.peer === current ? undefined : closer
    },
    claim: async () => options.mayClaim === true,
    releaseClaim: async () => {
      asked.releases++
    },
    markBad: (peer) => asked.bad.push(peer),
  }
  return { sources, asked }
}

function startFetch(
  node: Peer,
  sources: PullSources,
  blob: { digest: Digest; size: number },
  registry = new RegistryClient(RegistryConfig.empty(), silent),
  ref = parseReference('127.0.0.1:1/none/none:v1'),
) {
  const events: PullEvent[] = []
  const tally: Tally = { origin: 0, peers: 0, local: 0 }
  const fetch = new BlobFetch(
    { store: node.store, registry, sources, blobKey: key, log: silent, platform: hostPlatform() },
    ref,
    { mediaType: 'application/octet-stream', ...blob },
    tally,
    (event) => events.push(event),
  )
  return { done: fetch.run(), events, tally }
}

/** Where each `downloading` event stood, in order. */
const positions = (events: PullEvent[]): number[] =>
  events.flatMap((event) => (event.type === 'blob' && event.status === 'downloading' ? [event.current] : []))

describe('fetching a blob across routes', () => {
  let upstream: Peer
  let relay: Peer
  let other: Peer | undefined

  beforeEach(async () => {
    upstream = await startPeer('upstream')
    relay = await startPeer('relay')
  })
  afterEach(async () => {
    await Promise.all([stopPeer(upstream), stopPeer(relay), stopPeer(other)])
    other = undefined
  })

  it('a relay whose upstream stops part-way keeps its bytes and resumes, and a relay behind it gets every byte', async () => {
    const bytes = randomBytes(3 * MiB + 17)
    const digest = digestOf(bytes)
    // The upstream is itself still receiving the blob: 1 MiB so far.
    const arriving = await upstream.store.beginWrite(digest, bytes.length)
    await arriving.write(bytes.subarray(0, MiB))
    const { sources, asked } = testSources({ claimant: () => upstream.endpoint })
    const fetch = startFetch(relay, sources, { digest, size: bytes.length })
    await waitFor('the relay to hold the first MiB', () => relay.store.writerOf(digest)?.written === MiB)

    // Another relay streams from ours meanwhile.
    const follower = await fetchBlobRange(relay.endpoint, key, { digest, offset: 0, relayJoinedAt: joinedAt })
    const followed = readAll(follower.stream)
    // The upstream's own source fails: it gives up, and its stream to us ends 1 MiB in.
    await arriving.abort(new Error('upstream lost its source'))
    await waitFor('the relay to try again', () => asked.joins >= 2)
    expect(relay.store.writerOf(digest)?.written).toBe(MiB)
    // The upstream gets the blob after all, and ours resumes from where it stopped.
    await storeWhole(upstream.store, bytes)
    await fetch.done

    expect((await followed).equals(bytes)).toBe(true)
    expect(relay.store.has(digest)).toBe(true)
    expect(fetch.tally).toEqual({ origin: 0, peers: bytes.length, local: 0 })
    // Progress never went back: the second stream started at the first's end.
    const seen = positions(fetch.events)
    expect(seen.every((position, i) => i === 0 || position >= seen[i - 1]!)).toBe(true)
    // The failed upstream was passed over where another could be (there was none), and the claim let go once.
    expect(asked.avoided[1]).toEqual(['upstream'])
    expect(asked.releases).toBe(1)
    expect(asked.bad).toEqual([])
  })

  it('a relay moves to a relay its chain puts closer, resumes there, and holds nothing against the first', async () => {
    const bytes = randomBytes(3 * MiB + 5)
    const digest = digestOf(bytes)
    // Two relays joined before ours at the same moment; ours saw only the first (the upstream) when it
    // started. The other is a MiB in, from the same upstream.
    other = await startPeer('other')
    const atUpstream = await upstream.store.beginWrite(digest, bytes.length)
    await atUpstream.write(bytes.subarray(0, MiB))
    const atOther = await other.store.beginWrite(digest, bytes.length)
    await atOther.write(bytes.subarray(0, MiB))
    let closer: PeerEndpoint | undefined
    const { sources, asked } = testSources({ claimant: () => upstream.endpoint, closer: () => closer })
    const fetch = startFetch(relay, sources, { digest, size: bytes.length })
    await waitFor('the relay to hold the first MiB', () => relay.store.writerOf(digest)?.written === MiB)

    // Our view learns of the other relay: the chain is upstream → other → ours.
    closer = other.endpoint
    await waitFor('the relay to join again', () => asked.joins >= 2)
    // The rest reaches the other relay only; ours gets it from there.
    await atOther.write(bytes.subarray(MiB))
    await atOther.commit()
    await fetch.done

    expect((await readAll(relay.store.read(digest))).equals(bytes)).toBe(true)
    expect(fetch.tally).toEqual({ origin: 0, peers: bytes.length, local: 0 })
    // Moving on is not a failure: the upstream is not avoided, nothing is marked, the claim let go once.
    expect(asked.joins).toBe(2)
    expect(asked.avoided).toEqual([[], []])
    expect(asked.bad).toEqual([])
    expect(asked.releases).toBe(1)
    await atUpstream.abort(new Error('test over'))
  })

  it('drops bytes that do not match the digest, marks who sent them, and starts over from a good peer', async () => {
    const bytes = randomBytes(2 * MiB)
    const digest = digestOf(bytes)
    other = await startPeer('other')
    await storeWhole(other.store, bytes)
    // The upstream's copy is corrupt past the first MiB.
    await storeWhole(upstream.store, bytes)
    const corrupt = Buffer.from(bytes)
    corrupt[MiB + 5] = corrupt[MiB + 5]! ^ 0xff
    await writeFile(upstream.store.pathOf(digest), corrupt)
    const { sources, asked } = testSources({
      claimant: () => (asked.bad.includes('upstream') ? other?.endpoint : upstream.endpoint),
    })
    const fetch = startFetch(relay, sources, { digest, size: bytes.length })
    await fetch.done

    expect(asked.bad).toEqual(['upstream'])
    expect(relay.store.has(digest)).toBe(true)
    const stored = await readAll(relay.store.read(digest))
    expect(stored.equals(bytes)).toBe(true)
    // The good peer's stream started again from the first byte, and only its bytes are counted.
    expect(Math.min(...positions(fetch.events).slice(1))).toBeLessThan(MiB)
    expect(fetch.tally.peers).toBe(bytes.length)
    expect(await readdir(join(relay.dir, 'tmp'))).toEqual([])
  })

  it('stops at once with SHOAL_DISK_FULL when the disk fills up, and leaves no partial blob behind', async () => {
    const bytes = randomBytes(3 * MiB)
    const digest = digestOf(bytes)
    await storeWhole(upstream.store, bytes)
    // The relay's store on a real filesystem with room for 2 MiB.
    const small = await makeTempDir('shoal-fetch-small-')
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', small])
    try {
      const store = new BlobStore(join(small, 'blobs'), 1024 ** 3, () => new Set())
      await store.open()
      const { sources, asked } = testSources({ claimant: () => upstream.endpoint })
      const fetch = startFetch({ ...relay, store }, sources, { digest, size: bytes.length })
      await expect(fetch.done).rejects.toMatchObject({ code: 'SHOAL_DISK_FULL' })
      // No other route was tried: none would find room. The space the partial blob took is free again.
      expect(asked.joins).toBe(1)
      expect(store.has(digest)).toBe(false)
      expect(await readdir(join(small, 'blobs', 'tmp'))).toEqual([])
      await store.close()
    } finally {
      await run('umount', [small])
      await removeDir(small)
    }
  })

  it('gives up after repeated failures that make no progress, leaving no partial blob', async () => {
    const bytes = randomBytes(MiB)
    const digest = digestOf(bytes)
    // A claimant that answers but cannot help: it holds only a ranged write of the blob, never served.
    await upstream.store.beginWrite(digest, bytes.length, { ranged: true })
    const { sources, asked } = testSources({ claimant: () => upstream.endpoint })
    const fetch = startFetch(relay, sources, { digest, size: bytes.length })
    await expect(fetch.done).rejects.toMatchObject({ code: 'SHOAL_PULL_FAILED' })
    expect(asked.joins).toBe(8)
    expect(relay.store.writerOf(digest)).toBeUndefined()
    expect(await readdir(join(relay.dir, 'tmp'))).toEqual([])
  }, 30_000)
})

describe('resuming a blob from the origin', () => {
  let origin: CountedOrigin
  let proxy: CountingProxy
  let image: TestImage
  let node: Peer

  beforeAll(async () => {
    origin = await startCountedOrigin('team/resume', 'v1', [4_000_000])
    ;({ proxy, image } = origin)
    node = await startPeer('node')
  }, 60_000)
  afterAll(async () => {
    await stopPeer(node)
    await origin?.stop()
  })

  it('asks the origin only for the bytes it lacks after a dropped download', async () => {
    const layer = image.layers[1]! as { digest: Digest; size: number }
    proxy.cutNextBlobAfter(1_500_000)
    const { sources } = testSources({ mayClaim: true })
    const fetch = startFetch(
      node,
      sources,
      layer,
      new RegistryClient(RegistryConfig.empty(), silent),
      parseReference(origin.ref),
    )
    await fetch.done
    expect(node.store.has(layer.digest)).toBe(true)
    // Two requests: the whole blob, then the rest from where the kept bytes end. The cut may lose a few bytes
    // the proxy had sent (still in flight when the connection closed): those are asked for again, no more.
    expect(proxy.blobGets.get(layer.digest)).toBe(2)
    const [whole, rest] = proxy.blobRanges.get(layer.digest)!
    expect(whole).toBeUndefined()
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(rest ?? '')?.[1])
    expect(resumedAt).toBeGreaterThan(0)
    expect(resumedAt).toBeLessThanOrEqual(1_500_000)
    expect(proxy.blobBytes()).toBe(1_500_000 + layer.size - resumedAt)
    expect(fetch.tally).toEqual({ origin: layer.size, peers: 0, local: 0 })
  })

  it('asks a claimant that gives no answer once, then claims the blob and fetches it from the origin', async () => {
    const layer = image.layers[1]! as { digest: Digest; size: number }
    const before = proxy.blobGets.get(layer.digest) ?? 0
    // A claimant whose blob channel is gone: every connection to it is refused.
    const gone = await startPeer('gone')
    await stopPeer(gone)
    const claims: Array<string[]> = []
    const { sources, asked } = testSources({ claimant: () => gone.endpoint })
    sources.claim = async (_digest, _size, avoid) => {
      claims.push([...avoid])
      return true
    }
    const fresh = await startPeer('fresh')
    try {
      const fetch = startFetch(
        fresh,
        sources,
        layer,
        new RegistryClient(RegistryConfig.empty(), silent),
        parseReference(origin.ref),
      )
      await fetch.done
      expect(fresh.store.has(layer.digest)).toBe(true)
      // One try of the dead claimant, then a claim that leaves it out, and one fetch from the origin.
      expect(asked.joins).toBe(1)
      expect(claims).toEqual([['gone']])
      expect(proxy.blobGets.get(layer.digest)).toBe(before + 1)
      expect(fetch.tally).toEqual({ origin: layer.size, peers: 0, local: 0 })
    } finally {
      await stopPeer(fresh)
    }
  })

  it('gives way to a node fetching the blob under an earlier claim, and relays the rest from it', async () => {
    const layer = image.layers[1]! as { digest: Digest; size: number }
    const registry = new RegistryClient(RegistryConfig.empty(), silent)
    const ref = parseReference(origin.ref)
    // The other node claimed first; here it already has the whole blob.
    const other = await startPeer('other')
    const late = await startPeer('late')
    try {
      await startFetch(other, testSources({ mayClaim: true }).sources, layer, registry, ref).done
      const originGets = proxy.blobGets.get(layer.digest)
      const originBytes = proxy.blobBytes()
      proxy.throttle(1_000_000)
      // Ours settled without seeing that claim; it learns of it once its own download is under way.
      let otherSeen = false
      const { sources, asked } = testSources({
        mayClaim: true,
        claimant: () => (otherSeen ? other.endpoint : undefined),
        earlierFetcher: () => (otherSeen ? 'other' : undefined),
      })
      const fetch = startFetch(late, sources, layer, registry, ref)
      await waitFor(
        'our origin download to begin',
        () => (late.store.writerOf(layer.digest)?.written ?? 0) > 0,
      )
      otherSeen = true
      await fetch.done

      expect(
        (await readAll(late.store.read(layer.digest))).equals(await readAll(other.store.read(layer.digest))),
      ).toBe(true)
      // Ours asked the origin once, stopped taking its bytes, and took the rest from the other node.
      expect(proxy.blobGets.get(layer.digest)).toBe(originGets! + 1)
      expect(fetch.tally.origin).toBeGreaterThan(0)
      expect(fetch.tally.origin).toBeLessThan(layer.size / 2)
      expect(fetch.tally.origin + fetch.tally.peers).toBe(layer.size)
      expect(proxy.blobBytes() - originBytes).toBeLessThan(layer.size / 2)
      // Giving way is not a failure: nothing avoided, nothing marked, one claim let go.
      expect(asked.avoided).toEqual([[]])
      expect(asked.bad).toEqual([])
      expect(asked.releases).toBe(1)
    } finally {
      proxy.throttle(0)
      await stopPeer(other)
      await stopPeer(late)
    }
  })
})
