// The layers part: content store, image index, blob channel, inventories, fetch claims, pulls and Docker loads.
import { join } from 'node:path'
import type { Logger } from 'pino'
import { ImageNotFoundError } from '../errors.js'
import { partLogger } from '../logger.js'
import type { LocalWrite } from '../state/index.js'
import { BlobChannelServer, blobChannelKey } from './blob-channel.js'
import type { Digest } from './digest.js'
import { dockerArchive } from './docker-archive.js'
import { FetchClaims } from './fetch-claims.js'
import { bytesHeldByNode } from './image-locality.js'
import { type ImageLayer, ImageLookups } from './image-lookups.js'
import { rebuildImages } from './image-rebuild.js'
import { ImageIndex, type IndexLoad, type LocalImage } from './images.js'
import { Inventory, sameImageAs } from './inventory.js'
import { hostPlatform } from './manifest.js'
import { createLayerMetrics, type LayerMetrics } from './metrics.js'
import { Mirror, type MirroredManifest } from './mirror.js'
import { Puller } from './pull.js'
import { BadPeers, createPullSources } from './pull-sources.js'
import type { PullEvent, PullSources } from './pull-types.js'
import type { InventoryValue } from './records.js'
import { formatReference, parseReference } from './reference.js'
import { RegistryClient } from './registry-client.js'
import { RegistryConfig } from './registry-config.js'
import { BlobStore } from './store.js'
import type { ImageView, LayersComponents, LayersInit, LayerView, PullResult } from './types.js'

export class Layers {
  readonly store: BlobStore
  readonly images: ImageIndex
  private readonly log: Logger
  private readonly blobKey: Buffer
  private readonly server: BlobChannelServer
  private readonly metrics: LayerMetrics
  private readonly inventory: Inventory
  private readonly claims: FetchClaims
  private readonly sources: PullSources
  private readonly mirror: Mirror
  private readonly lookups: ImageLookups
  private registry: RegistryClient | undefined
  private blobPort = 0
  private running = false

  constructor(
    private readonly components: LayersComponents,
    private readonly init: LayersInit,
  ) {
    const { state, membership, mesh, docker } = components
    this.log = partLogger(components.logger, 'layers')
    this.images = new ImageIndex(join(init.dataDir, 'images.json'))
    this.store = new BlobStore(
      join(init.dataDir, 'blobs'),
      init.storeMaxBytes,
      () => this.images.referenced(),
      partLogger(components.logger, 'layers:store'),
    )
    this.blobKey = blobChannelKey(init.swarmKey)
    this.metrics = createLayerMetrics(components.metrics, () => this.store.usedBytes())
    this.inventory = new Inventory({ state, store: this.store, images: this.images, docker, log: this.log })
    this.claims = new FetchClaims(state, this.log)
    this.sources = createPullSources(
      {
        store: this.store,
        inventory: this.inventory,
        claims: this.claims,
        membership,
        mesh,
        clockNow: () => state.clockNow(),
        metrics: this.metrics,
        log: this.log,
        claimSettleMs: init.claimSettleMs,
      },
      new BadPeers(),
    )
    this.mirror = new Mirror(
      {
        store: this.store,
        images: this.images,
        clusterImages: () => this.imageViews({ all: true }),
        pull: async (ref) => (await this.pull(ref, () => undefined)).image,
      },
      { upstream: init.mirrorUpstream, pull: init.mirrorPull ?? false },
    )
    this.lookups = new ImageLookups(async (refText) => {
      if (this.registry === undefined) throw new TypeError('layers is not started')
      const resolved = await this.registry.resolve(parseReference(refText), hostPlatform())
      return resolved.layers.map(({ digest, size }) => ({ digest: digest as Digest, size }))
    }, this.log)
    this.server = new BlobChannelServer(
      this.store,
      this.blobKey,
      partLogger(components.logger, 'layers:blobs'),
      (digest, joinedAt) => this.claims.mayRelayTo(digest, joinedAt),
    )
  }

  async start(): Promise<void> {
    if (this.running) return
    const config = this.init.registryConfigFile
      ? await RegistryConfig.load(this.init.registryConfigFile, true)
      : await RegistryConfig.load(join(this.init.dataDir, 'registries.json'), false)
    this.registry = new RegistryClient(config, partLogger(this.components.logger, 'layers:registry'))
    await this.store.open()
    const loaded = await this.images.load()
    if (loaded.state === 'damaged') await this.recoverImages(loaded)
    this.blobPort = await this.server.start(this.init.blobHost, this.init.blobPort)
    this.claims.start()
    this.running = true
    await this.inventory.start(this.blobPort)
    this.log.info(
      { blobPort: this.blobPort, blobs: this.store.list().length, images: this.images.list().length },
      'layers started',
    )
  }

  /**
   * After a damaged index file (moved aside by load()): indexes again the images this node's own inventory
   * record lists whose blobs are all in the store, and says in the log what could not be recovered. Runs
   * before the inventory starts, which would publish the emptier index over that record.
   */
  private async recoverImages(loaded: Extract<IndexLoad, { state: 'damaged' }>): Promise<void> {
    const rebuilt = await rebuildImages(
      this.store,
      this.inventory.publishedImages(),
      new Set(this.images.list().map((image) => image.ref)),
    )
    await this.images.restore(rebuilt.images)
    this.log.warn(
      {
        reason: loaded.reason,
        keptAs: loaded.keptAs,
        kept: this.images.list().length - rebuilt.images.length,
        rebuilt: rebuilt.images.map((image) => image.ref),
        incomplete: rebuilt.incomplete,
      },
      'the image index was damaged: moved it aside and rebuilt it from the store and this node’s inventory record',
    )
    if (rebuilt.incomplete.length > 0 || rebuilt.unnamed.length > 0) {
      this.log.warn(
        { incomplete: rebuilt.incomplete, unnamed: rebuilt.unnamed },
        'some images could not be rebuilt: pull them again (images missing blobs are gone; manifests no ' +
          'record names have lost their names, and their blobs are evicted when the store needs room)',
      )
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.inventory.stop()
    this.claims.stop()
    await this.server.stop()
    await this.store.close()
  }

  get blobChannelPort(): number {
    return this.blobPort
  }

  /** Pulls an image into the store (and into the Docker engine when one is reachable), reporting progress. */
  async pull(refText: string, emit: (event: PullEvent) => void, signal?: AbortSignal): Promise<PullResult> {
    const ref = parseReference(refText)
    const registry = this.registry
    if (registry === undefined) throw new TypeError('layers is not started')
    let tally = { origin: 0, peers: 0 }
    const puller = new Puller({
      store: this.store,
      registry,
      sources: this.sources,
      blobKey: this.blobKey,
      log: this.log,
      platform: hostPlatform(),
    })
    const image = await puller.pull(
      ref,
      (event) => {
        if (event.type === 'done') tally = { origin: event.bytesFromOrigin, peers: event.bytesFromPeers }
        if (event.type === 'blob' && event.status === 'done' && event.source !== undefined) {
          this.metrics.blobs.inc({ source: event.source })
          this.metrics.bytes.inc({ source: event.source }, event.total)
        }
        emit(event)
      },
      signal,
    )
    await this.images.put(image)
    this.inventory.schedule()
    let docker = false
    if (this.components.docker !== undefined && (await this.components.docker.ping())) {
      await this.components.docker.loadImage(dockerArchive(this.store, image, dockerTag(image.ref)))
      docker = true
      await this.inventory.refreshDockerImages()
    }
    return { image, bytesFromOrigin: tally.origin, bytesFromPeers: tally.peers, loadedIntoDocker: docker }
  }

  /** Removes an image from the index and deletes the blobs no other image uses. */
  async removeImage(refText: string): Promise<LocalImage> {
    const ref = formatReference({ ...parseReference(refText), digest: undefined })
    const image = this.images.get(ref)
    if (image === undefined) throw new ImageNotFoundError(`no image ${ref} on this node`)
    await this.images.remove(ref)
    const stillUsed = this.images.referenced()
    for (const digest of [image.digest, image.config.digest, ...image.layers.map((layer) => layer.digest)]) {
      if (!stillUsed.has(digest)) await this.store.remove(digest)
    }
    this.inventory.schedule()
    return image
  }

  /** Images on this node, or on every node (`all`), or on one node. */
  imageViews(options: { all?: boolean; node?: string } = {}): ImageView[] {
    const self = this.components.mesh.peerId
    const views: ImageView[] = []
    for (const [peer, inventory] of this.inventory.all()) {
      if (options.node !== undefined ? peer !== options.node : options.all !== true && peer !== self) continue
      const node = { node: peer, nodeName: this.components.membership.nameOf(peer) }
      for (const { ref, digest, layers, size } of inventory.images) {
        views.push({ ref, digest, layers, size, ...node, source: 'store' })
      }
      for (const image of inventory.docker) {
        for (const tag of image.tags) {
          views.push({ ref: tag, digest: image.id as Digest, layers: [], size: 0, ...node, source: 'docker' })
        }
      }
    }
    return views.sort((a, b) => a.ref.localeCompare(b.ref) || a.nodeName.localeCompare(b.nodeName))
  }

  /** Blobs on this node (or all nodes, or one), each with every node that holds it. */
  layerViews(options: { all?: boolean; node?: string } = {}): LayerView[] {
    const self = this.components.mesh.peerId
    const byDigest = new Map<Digest, LayerView>()
    for (const [peer, inventory] of this.inventory.all()) {
      for (const blob of inventory.blobs) {
        const view = byDigest.get(blob.digest) ?? { digest: blob.digest, size: blob.size, holders: [] }
        view.holders.push(peer)
        byDigest.set(blob.digest, view)
      }
    }
    const wanted = options.node ?? (options.all === true ? undefined : self)
    return [...byDigest.values()]
      .filter((view) => wanted === undefined || view.holders.includes(wanted))
      .sort((a, b) => a.digest.localeCompare(b.digest))
  }

  /** A manifest for the registry mirror (see Mirror.manifest: which lookups may start a pull). */
  mirrorManifest(name: string, reference: string): Promise<MirroredManifest> {
    return this.mirror.manifest(name, reference)
  }

  /** Nodes whose store or Docker engine holds an image, by reference, from local state only. */
  imageHolders(refText: string): Set<string> {
    return this.inventory.imageHolders(refText)
  }

  /**
   * Per node, the share (0..1) of the image's layer bytes it already holds, from local state; nodes that hold
   * none are absent, and nodes that have the image (store or Docker engine) hold 1. Placement prefers nodes by
   * it, so that a node holding 9 of 10 layers scores nearly like one holding all (see image-locality.ts).
   *
   * An image no node holds or lists has its layer list looked up once in its registry (image-lookups.ts):
   * `undefined` means that lookup is under way and worth waiting for (at most IMAGE_LOOKUP_WAIT_MS, once per
   * image); ask again in a moment, or place without it.
   */
  imageBytesHeld(refText: string): Map<string, number> | undefined {
    const self = this.components.mesh.peerId
    const isWanted = sameImageAs(refText)
    // This node's blobs are read from its store below, not listed (and sorted) for each question.
    const inventories = this.inventory.all(0)
    let layers: readonly ImageLayer[] | undefined = this.images
      .list()
      .find((image) => isWanted(image.ref))?.layers
    if (layers === undefined && !listsImage(inventories, isWanted)) {
      const looked = this.lookups.get(refText)
      if (looked === 'pending') return undefined
      if (looked !== 'unknown') layers = looked.layers
    }
    return bytesHeldByNode({
      inventories,
      blobHolders: (digest) => {
        const holders = this.inventory.holdersOf(digest)
        return this.store.has(digest) ? [...holders, self] : holders
      },
      localLayers: layers,
      isWanted,
    })
  }

  /** Deletions of the records layers keep about a node gone for good: its inventory and its fetch claims. */
  removalsFor(peer: string): LocalWrite[] {
    return [...this.inventory.removalsFor(peer), ...this.claims.removalsFor(peer)]
  }

  /** Peers that hold a blob, from local state only (no network round trip). */
  holdersOf(digest: Digest): string[] {
    return [...this.inventory.holdersOf(digest)]
  }
}

/** True if some node's inventory has the image (its store lists it with its layers, or its engine has the tag). */
function listsImage(
  inventories: ReadonlyMap<string, InventoryValue>,
  isWanted: (ref: string) => boolean,
): boolean {
  for (const inventory of inventories.values()) {
    if (inventory.images.some((image) => isWanted(image.ref))) return true
    if (inventory.docker.some((image) => image.tags.some(isWanted))) return true
  }
  return false
}

/** Docker's name for a reference: Docker Hub images without the `docker.io/` prefix. */
function dockerTag(ref: string): string {
  return ref.startsWith('docker.io/') ? ref.slice('docker.io/'.length).replace(/^library\//, '') : ref
}
