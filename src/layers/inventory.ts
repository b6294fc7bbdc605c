// Inventories: this node's `inventory/<peerId>` record kept current, and who holds what, from every node's record.
import type { Logger } from 'pino'
import type { DockerEngine } from '../docker/index.js'
import type { KindHandle, LocalWrite, ReplicatedState } from '../state/index.js'
import { INVENTORY_DEBOUNCE_MS, MAX_INVENTORY_BLOBS } from './constants.js'
import type { Digest } from './digest.js'
import type { ImageIndex } from './images.js'
import { type InventoryValue, inventoryKind } from './records.js'
import { formatReference, parseReference } from './reference.js'
import type { BlobStore } from './store.js'

export interface InventoryComponents {
  state: ReplicatedState
  store: BlobStore
  images: ImageIndex
  docker?: Pick<DockerEngine, 'ping' | 'listImages'>
  log: Logger
}

export class Inventory {
  private readonly records: KindHandle<InventoryValue>
  private readonly self: string
  private readonly holdersByDigest = new Map<Digest, Set<string>>()
  private dockerImages: InventoryValue['docker'] = []
  private blobPort = 0
  private timer: NodeJS.Timeout | undefined
  private unwatch: (() => void) | undefined
  private running = false
  private readonly onBlobsChanged = (): void => this.schedule()

  constructor(private readonly c: InventoryComponents) {
    this.records = c.state.kind(inventoryKind)
    this.self = c.state.peerId
  }

  /** Indexes every node's inventory, then publishes this node's (with the blob channel's port). */
  async start(blobPort: number): Promise<void> {
    if (this.running) return
    this.running = true
    this.blobPort = blobPort
    for (const [peer, inventory] of this.records.entries()) this.index(peer, inventory)
    this.unwatch = this.records.watch((change) => this.index(change.id, change.value))
    this.c.store.on('blob:added', this.onBlobsChanged)
    this.c.store.on('blob:removed', this.onBlobsChanged)
    await this.refreshDockerImages()
    await this.publish()
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.unwatch?.()
    this.c.store.off('blob:added', this.onBlobsChanged)
    this.c.store.off('blob:removed', this.onBlobsChanged)
  }

  /** Publishes this node's inventory soon (changes within INVENTORY_DEBOUNCE_MS go out as one write). */
  schedule(): void {
    if (!this.running || this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.publish().catch((err: Error) =>
        this.c.log.warn({ err: err.message }, 'could not publish inventory'),
      )
    }, INVENTORY_DEBOUNCE_MS)
    this.timer.unref()
  }

  /** Publishes this node's inventory now. */
  async publish(): Promise<void> {
    await this.records.put(this.self, this.own(MAX_INVENTORY_BLOBS))
  }

  /** Lists the images of the local Docker engine again (after a load), for the inventory. */
  async refreshDockerImages(): Promise<void> {
    const docker = this.c.docker
    if (docker === undefined || !(await docker.ping())) return
    try {
      const images = await docker.listImages()
      this.dockerImages = images
        .slice(0, 200)
        .map((image) => ({ id: image.id.slice(0, 100), tags: image.tags.slice(0, 32) }))
      this.schedule()
    } catch (err) {
      this.c.log.warn({ err: (err as Error).message }, 'could not list Docker images')
    }
  }

  /** Peers whose inventory lists the blob complete (this node's own record included), from local state only. */
  holdersOf(digest: Digest): ReadonlySet<string> {
    return this.holdersByDigest.get(digest) ?? new Set()
  }

  /** The deletion of a gone node's inventory, if we hold one. */
  removalsFor(peer: string): LocalWrite[] {
    return this.records.value(peer) === undefined ? [] : [this.records.removal(peer)]
  }

  /** The images this node's own last published record lists (kept in LevelDB: it outlives the image index file). */
  publishedImages(): Array<{ ref: string; digest: Digest }> {
    return (this.records.value(this.self)?.images ?? []).map(({ ref, digest }) => ({ ref, digest }))
  }

  /** The blob channel port a peer advertises, if we have its inventory. */
  blobPortOf(peer: string): number | undefined {
    return this.records.value(peer)?.blobPort
  }

  /** Nodes whose store or Docker engine holds an image, by reference, from local state only. */
  imageHolders(refText: string): Set<string> {
    const wanted = sameImageAs(refText)
    const holders = new Set<string>()
    // Images only: this node's blobs need not be listed (and sorted) for it.
    for (const [peer, inventory] of this.all(0)) {
      if (
        inventory.images.some((image) => wanted(image.ref)) ||
        inventory.docker.some((image) => image.tags.some(wanted))
      )
        holders.add(peer)
    }
    return holders
  }

  /**
   * Every node's inventory; ours comes from the store and index themselves (our record trails them by a
   * moment), with up to `ownBlobs` blobs listed, not only the newest ones the record has room for.
   */
  all(ownBlobs = Number.POSITIVE_INFINITY): Map<string, InventoryValue> {
    const result = new Map<string, InventoryValue>(this.records.entries())
    result.set(this.self, this.own(ownBlobs))
    return result
  }

  /** What this node holds, as its inventory record says it (with at most `maxBlobs` blobs, newest first). */
  private own(maxBlobs: number): InventoryValue {
    const stored = this.c.store.list()
    const blobs =
      maxBlobs === 0
        ? []
        : stored
            .sort((a, b) => b.usedAt - a.usedAt)
            .slice(0, maxBlobs)
            .map((blob) => ({ digest: blob.digest, size: blob.size }))
    return {
      blobPort: this.blobPort,
      blobs,
      blobCount: stored.length,
      storeBytes: this.c.store.usedBytes(),
      images: this.c.images.list().map((image) => ({
        ref: image.ref,
        digest: image.digest,
        layers: image.layers.map((layer) => layer.digest),
        layerSizes: image.layers.map((layer) => layer.size),
        size: image.size,
      })),
      docker: this.dockerImages,
    }
  }

  private index(peer: string, inventory: InventoryValue | undefined): void {
    for (const holders of this.holdersByDigest.values()) holders.delete(peer)
    for (const blob of inventory?.blobs ?? []) {
      let holders = this.holdersByDigest.get(blob.digest)
      if (holders === undefined) {
        holders = new Set()
        this.holdersByDigest.set(blob.digest, holders)
      }
      holders.add(peer)
    }
  }
}

/** A test for references naming the same image as `refText` (`busybox` is `docker.io/library/busybox:latest`). */
export function sameImageAs(refText: string): (other: string) => boolean {
  const normal = (text: string): string | undefined => {
    try {
      return formatReference(parseReference(text))
    } catch {
      // Not a reference we can parse: it can only match itself, exactly.
      return undefined
    }
  }
  const wanted = normal(refText) ?? refText
  return (other) => other === refText || normal(other) === wanted
}
