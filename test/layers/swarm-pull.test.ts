import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLAIM_TTL_MS } from '../../src/layers/constants.js'
import type { Digest } from '../../src/layers/index.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import {
  type CountedOrigin,
  type CountingProxy,
  startCountedOrigin,
  type TestImage,
} from '../helpers/registry.js'
import { sleep, waitFor } from '../helpers/wait.js'

describe('four nodes pulling one image at the same moment', () => {
  let origin: CountedOrigin
  let proxy: CountingProxy
  let image: TestImage
  let nodes: TestNode[] = []

  beforeAll(async () => {
    origin = await startCountedOrigin('team/app', 'v1', [6_000_000, 3_000_000, 20_000_000])
    ;({ proxy, image } = origin)
    // Four daemons share this one event loop (and the machine runs other suites meanwhile), so gossip can
    // lag far behind a real daemon's; a longer claim settle keeps the test about the protocol, not the load.
    nodes = await startCluster(4, 'pull', { layers: { claimSettleMs: 1_500 } })
    await waitFor('every node to see every inventory', () =>
      nodes.every((node) => node.daemon.state.list('inventory').length === 4),
    )
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(nodes)
    await origin?.stop()
  })

  it('fetches every blob from the origin once, and every node ends up with the whole image', async () => {
    proxy.throttle(20_000_000)
    const ref = `${proxy.host}/team/app:v1`
    const results = await Promise.all(nodes.map((node) => node.daemon.layers.pull(ref, () => undefined)))
    for (const blob of image.blobs) expect(proxy.blobGets.get(blob.digest), blob.digest).toBe(1)
    const fromOrigin = results.reduce((sum, result) => sum + result.bytesFromOrigin, 0)
    const fromPeers = results.reduce((sum, result) => sum + result.bytesFromPeers, 0)
    expect(fromOrigin).toBe(image.size)
    expect(fromPeers).toBe(3 * image.size)
    for (const [i, node] of nodes.entries()) {
      expect(results[i]!.image.digest).toBe(image.manifestDigest)
      for (const blob of image.blobs) expect(node.daemon.layers.store.has(blob.digest as Digest)).toBe(true)
    }
    // The origin sent the image's bytes about once: G1 = 1.0 here.
    expect(proxy.blobBytes()).toBe(image.size)
  })

  it('lists images and layers on every node, with holders, from local state', async () => {
    await waitFor(
      'inventories to list the blobs on all four',
      () => nodes[0]!.daemon.layers.holdersOf(image.layers[2]!.digest as Digest).length === 4,
    )
    // Each node's inventory reaches the others a moment after its pull ends: wait until every node lists all four.
    const storeImages = (node: TestNode) =>
      node.daemon.layers.imageViews({ all: true }).filter((view) => view.source === 'store')
    await waitFor('all four images listed on every node', () =>
      nodes.every((node) => storeImages(node).length === 4),
    )
    const views = storeImages(nodes[1]!)
    expect(views.map((view) => view.nodeName).sort()).toEqual(['pull0', 'pull1', 'pull2', 'pull3'])
    const layers = nodes[2]!.daemon.layers.layerViews()
    expect(layers.find((layer) => layer.digest === image.layers[0]!.digest)?.holders).toHaveLength(4)
    expect(await metric(nodes[0]!, 'shoal_store_bytes')).toBeGreaterThanOrEqual(image.size)
    // What the scheduler asks to prefer nodes that hold a job's image: every node, itself included.
    const holders = nodes[3]!.daemon.layers.imageHolders(`${proxy.host}/team/app:v1`)
    expect([...holders].sort()).toEqual(nodes.map((node) => node.daemon.peerId).sort())
    expect(nodes[3]!.daemon.layers.imageHolders(`${proxy.host}/team/app:v2`).size).toBe(0)
  })

  it('keeps a claim alive past its lifetime while the blob arrives: a node that starts later streams it', async () => {
    const slow = await startCountedOrigin('team/slow', 'v1', [12_000_000])
    try {
      // ~1 MB/s: the big layer takes ~12 s, longer than a claim lives unless it is renewed, and the late node
      // (a claim settle of 1.5 s here) decides while it is still arriving.
      slow.proxy.throttle(1_000_000)
      const big = slow.image.layers[1]!.digest
      const [first, late] = nodes as [TestNode, TestNode]
      const firstPull = first.daemon.layers.pull(slow.ref, () => undefined)
      await waitFor('the first node to fetch the big layer', () => (slow.proxy.blobGets.get(big) ?? 0) >= 1)
      await sleep(CLAIM_TTL_MS + 500)
      expect(first.daemon.layers.store.has(big as Digest)).toBe(false)
      const latePull = late.daemon.layers.pull(slow.ref, () => undefined)
      const [, lateResult] = await Promise.all([firstPull, latePull])
      // The late node found the first one's claim alive and streamed from it: one origin fetch.
      expect(slow.proxy.blobGets.get(big)).toBe(1)
      expect(lateResult.bytesFromOrigin).toBeLessThan(1_000_000)
    } finally {
      await slow.stop()
    }
  }, 60_000)

  it('catches a peer serving corrupt bytes, stores nothing corrupt, and falls back', async () => {
    const [a, b, c, d] = nodes as [TestNode, TestNode, TestNode, TestNode]
    const big = image.layers[2]!.digest as Digest
    // b, c and d forget the image; a's copy of the big layer is corrupted on disk.
    for (const node of [b, c, d]) await node.daemon.layers.removeImage(`${proxy.host}/team/app:v1`)
    const path = a.daemon.layers.store.pathOf(big)
    const bytes = await readFile(path)
    bytes[1_000_000] = bytes[1_000_000]! ^ 0xff
    await writeFile(path, bytes)
    await waitFor('only a to hold the big layer', () => b.daemon.layers.holdersOf(big).length === 1)

    const before = proxy.blobGets.get(big) ?? 0
    const result = await b.daemon.layers.pull(`${proxy.host}/team/app:v1`, () => undefined)
    expect(result.image.digest).toBe(image.manifestDigest)
    expect(await metric(b, 'shoal_layer_bad_peers_total')).toBeGreaterThanOrEqual(1)
    // The fallback went to the origin, and what b stored is the real thing.
    expect(proxy.blobGets.get(big)).toBe(before + 1)
    const stored = await readFile(b.daemon.layers.store.pathOf(big))
    const { createHash } = await import('node:crypto')
    expect(`sha256:${createHash('sha256').update(stored).digest('hex')}`).toBe(big)
    expect(await readdir(join(b.dataDir, 'blobs', 'tmp'))).toEqual([])
  })
})
