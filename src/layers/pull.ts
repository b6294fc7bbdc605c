// The pull planner: each blob from peers that hold it, else from the peer fetching it, else claimed and fetched from the origin.
import { BlobFetch, type Tally } from './blob-fetch.js'
import { MAX_PARALLEL_LAYERS } from './constants.js'
import type { LocalImage } from './images.js'
import type { Descriptor } from './manifest.js'
import type { PullComponents, PullEvent } from './pull-types.js'
import { formatReference, type ImageReference } from './reference.js'

export class Puller {
  constructor(private readonly components: PullComponents) {}

  /** Pulls an image into the store and returns it as the local index will hold it. */
  async pull(
    ref: ImageReference,
    emit: (event: PullEvent) => void,
    signal?: AbortSignal,
  ): Promise<LocalImage> {
    const { registry, store, platform } = this.components
    const resolved = await registry.resolve(ref, platform)
    const refText = formatReference({ ...ref, digest: undefined })
    const blobs: Descriptor[] = [resolved.config, ...resolved.layers]
    emit({
      type: 'resolved',
      ref: refText,
      digest: resolved.manifestDigest,
      layers: resolved.layers.map((layer) => ({ digest: layer.digest, size: layer.size })),
    })
    if (!store.has(resolved.manifestDigest)) {
      const writer = await store.beginWrite(resolved.manifestDigest, resolved.manifestBytes.length)
      await writer.write(resolved.manifestBytes)
      await writer.commit()
    }
    const tally: Tally = { origin: 0, peers: 0, local: 0 }
    await runLimited(blobs, MAX_PARALLEL_LAYERS, (blob) =>
      new BlobFetch(this.components, ref, blob, tally, emit, signal).run(),
    )
    emit({
      type: 'done',
      ref: refText,
      digest: resolved.manifestDigest,
      bytesFromOrigin: tally.origin,
      bytesFromPeers: tally.peers,
      bytesLocal: tally.local,
    })
    return {
      ref: refText,
      digest: resolved.manifestDigest,
      mediaType: resolved.manifestMediaType,
      config: { digest: resolved.config.digest, size: resolved.config.size },
      layers: resolved.layers.map((layer) => ({
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
      })),
      size: blobs.reduce((sum, blob) => sum + blob.size, 0),
      pulledAt: new Date().toISOString(),
    }
  }
}

/** Runs `task` over `items` with at most `limit` at once; fails with the first error once all settle. */
async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!
      await task(item).catch((err: unknown) => errors.push(err))
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (errors.length > 0) throw errors[0]
}
