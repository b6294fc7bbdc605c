// A pull whose only peer route is dead (a holder alive in the mesh whose blob channel refuses) falls back to the origin at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Digest } from '../../src/layers/index.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { type CountedOrigin, startCountedOrigin } from '../helpers/registry.js'
import { waitFor } from '../helpers/wait.js'

/** Far more than a pull of this image from the origin takes; far less than retrying a dead peer's routes. */
const PULL_DEADLINE_MS = 30_000

function withinDeadline<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${PULL_DEADLINE_MS} ms`)),
      PULL_DEADLINE_MS,
    )
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}

describe('a pull whose peer routes are all dead', () => {
  let origin: CountedOrigin
  let nodes: TestNode[] = []

  beforeAll(async () => {
    origin = await startCountedOrigin('team/fallback', 'v1', [3_000_000, 9_000_000])
    nodes = await startCluster(2, 'fallback')
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(nodes)
    await origin?.stop()
  })

  it('fetches every blob from the origin once, without waiting out retries of the dead holder', async () => {
    const [holder, puller] = nodes as [TestNode, TestNode]
    const { image, proxy, ref } = origin
    await holder.daemon.layers.pull(ref, () => undefined)
    const big = image.layers[2]!.digest as Digest
    await waitFor('the puller to see the holder hold every blob', () =>
      image.blobs.every((blob) => puller.daemon.layers.holdersOf(blob.digest as Digest).length === 1),
    )
    // The holder stays alive in the mesh, its inventory still lists the blobs, but its blob channel is gone:
    // every connection to that port is refused.
    await holder.daemon.layers.stop()
    expect(puller.daemon.membership.livenessOf(holder.daemon.peerId)).toBe('alive')
    expect(puller.daemon.layers.holdersOf(big)).toEqual([holder.daemon.peerId])

    const result = await withinDeadline(
      'the pull',
      puller.daemon.layers.pull(ref, () => undefined),
    )
    expect(result.image.digest).toBe(image.manifestDigest)
    expect(result.bytesFromOrigin).toBe(image.size)
    expect(result.bytesFromPeers).toBe(0)
    // The origin saw each blob twice in all: the holder's pull, and the puller's one fallback fetch.
    for (const blob of image.blobs) expect(proxy.blobGets.get(blob.digest), blob.digest).toBe(2)
    for (const blob of image.blobs) expect(puller.daemon.layers.store.has(blob.digest as Digest)).toBe(true)
  })
})
