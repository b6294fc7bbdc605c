// How much of an image each node already holds, by bytes of its layers: placement prefers nodes that hold more.
import type { Digest } from './digest.js'
import type { InventoryValue } from './records.js'

/** What the answer is read from: local state only (inventories, this node's store and index). */
export interface Holdings {
  /** Every node's inventory; this node's own as its store and index stand now. */
  inventories: ReadonlyMap<string, InventoryValue>
  /** Nodes whose inventory lists the blob complete (blob lists are cut short in big stores: see below). */
  blobHolders(digest: Digest): Iterable<string>
  /** The image's layers and their sizes, when this node has the image in its index. */
  localLayers?: ReadonlyArray<{ digest: Digest; size: number }>
  /** A test for references naming the wanted image (`busybox` is `docker.io/library/busybox:latest`). */
  isWanted(ref: string): boolean
}

interface Layer {
  digest: Digest
  size: number | undefined
}

/**
 * Per node, the share (0..1] of the image's layer bytes it holds; nodes holding none are absent. A node that has
 * the image itself (in its store's index, or tagged in its Docker engine) holds all of it. Other nodes hold the
 * layers their inventory lists, as blobs or as layers of other images (a store of more than MAX_INVENTORY_BLOBS
 * blobs lists only its newest). The layers and sizes come from this node's index, else from an inventory that
 * lists the image; a layer whose size no record gives weighs as much as the average known one. When no node
 * lists the image's layers (only Docker engines hold it), only whole holders are known.
 */
export function bytesHeldByNode(holdings: Holdings): Map<string, number> {
  const held = new Map<string, number>()
  let layers: Layer[] | undefined = holdings.localLayers?.map(({ digest, size }) => ({ digest, size }))
  for (const [peer, inventory] of holdings.inventories) {
    for (const image of inventory.images) {
      if (!holdings.isWanted(image.ref)) continue
      held.set(peer, 1)
      // Prefer a listing that gives sizes (nodes older than this field list digests only).
      if (
        layers === undefined ||
        (image.layerSizes !== undefined && layers.some((l) => l.size === undefined))
      )
        layers = image.layers.map((digest, i) => ({ digest, size: image.layerSizes?.[i] }))
    }
    if (inventory.docker.some((image) => image.tags.some((tag) => holdings.isWanted(tag)))) held.set(peer, 1)
  }
  if (layers === undefined || layers.length === 0) return held
  const weights = layerWeights(layers, holdings.inventories)
  const total = [...weights.values()].reduce((sum, weight) => sum + weight, 0)
  if (total === 0) return held
  const partial = new Map<string, number>()
  const credit = (peer: string, digest: Digest, counted: Set<string>): void => {
    const key = `${peer} ${digest}`
    if (held.get(peer) === 1 || counted.has(key)) return
    counted.add(key)
    partial.set(peer, (partial.get(peer) ?? 0) + weights.get(digest)!)
  }
  const counted = new Set<string>()
  for (const digest of weights.keys())
    for (const peer of holdings.blobHolders(digest)) credit(peer, digest, counted)
  for (const [peer, inventory] of holdings.inventories) {
    for (const image of inventory.images) {
      for (const digest of image.layers) if (weights.has(digest)) credit(peer, digest, counted)
    }
  }
  for (const [peer, bytes] of partial) held.set(peer, Math.min(1, bytes / total))
  return held
}

/** Bytes per distinct layer: its size from the listing, else from any inventory's blob list, else the average. */
function layerWeights(layers: readonly Layer[], inventories: Holdings['inventories']): Map<Digest, number> {
  const sizes = new Map<Digest, number | undefined>()
  for (const layer of layers) if (sizes.get(layer.digest) === undefined) sizes.set(layer.digest, layer.size)
  let missing = [...sizes.values()].filter((size) => size === undefined).length
  if (missing > 0) {
    for (const inventory of inventories.values()) {
      for (const blob of inventory.blobs) {
        if (sizes.has(blob.digest) && sizes.get(blob.digest) === undefined) {
          sizes.set(blob.digest, blob.size)
          missing--
        }
      }
      if (missing === 0) break
    }
  }
  const known = [...sizes.values()].filter((size): size is number => size !== undefined)
  // Sizes no record gives: the average of the known ones (or equal weights when none is known).
  const stand = known.length === 0 ? 1 : known.reduce((sum, size) => sum + size, 0) / known.length
  return new Map([...sizes].map(([digest, size]) => [digest, size ?? stand]))
}
