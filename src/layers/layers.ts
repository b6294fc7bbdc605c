// The layers part: content store, image index, blob channel, inventory record, fetch claims, pulls and Docker loads.
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { ImageNotFoundError, ManifestNotFoundError } from '../errors.js'
import { partLogger } from '../logger.js'
import { NODE_KIND, type NodeValue } from '../membership/index.js'
import type { RecordChange, Stamp } from '../state/index.js'
import { compareStamps, subjectOf } from '../state/index.js'
import { BlobChannelServer, blobChannelKey } from './blob-channel.js'
import { ClaimBook } from './claims.js'
import {
  BAD_PEER_MS,
  CLAIM_RENEW_MS,
  CLAIM_SETTLE_MS,
  INVENTORY_DEBOUNCE_MS,
  MAX_INVENTORY_BLOBS,
  RELAY_SETTLE_MS,
} from './constants.js'
import { type Digest, isDigest } from './digest.js'
import { dockerArchive } from './docker-archive.js'
import { ImageIndex, type LocalImage } from './images.js'
import type { ImageView, LayersComponents, LayersInit, LayerView, PullResult } from './index.js'
import { hostPlatform, MEDIA_TYPES } from './manifest.js'
import { createLayerMetrics, type LayerMetrics } from './metrics.js'
import { type PeerEndpoint, type PullEvent, Puller, type PullSources } from './pull.js'
import {
  FETCH_KIND,
  type FetchClaim,
  fetchKey,
  fetchKind,
  INVENTORY_KIND,
  type InventoryValue,
  inventoryKey,
  inventoryKind,
} from './records.js'
import { formatReference, parseReference } from './reference.js'
import { RegistryClient } from './registry-client.js'
import { RegistryConfig } from './registry-config.js'
import { BlobStore } from './store.js'

interface OwnClaim {
  claimedAt: Stamp
  size: number
  mode: 'origin' | 'relay'
  fetching: boolean
}

export class Layers {
  readonly store: BlobStore
  readonly images: ImageIndex
  private readonly log: Logger
  private readonly blobKey: Buffer
  private readonly server: BlobChannelServer
  private readonly metrics: LayerMetrics
  private registry: RegistryClient | undefined
  private blobPort = 0
  private readonly claims = new ClaimBook()
  private readonly holdersByDigest = new Map<Digest, Set<string>>()
  private readonly badPeers = new Map<string, number>()
  /**
   * This node's own claims: when it claimed each blob, whether it claims the origin fetch or a relay place,
   * and whether it won the origin fetch (it is fetching).
   */
  private readonly ownClaims = new Map<Digest, OwnClaim>()
  private dockerImages: InventoryValue['docker'] = []
  private inventoryTimer: NodeJS.Timeout | undefined
  /** Renews every claim this node holds, all in one write (one gossip message), while it holds any. */
  private renewalTimer: NodeJS.Timeout | undefined
  private running = false
  private readonly onChange = (change: RecordChange): void => this.observe(change)
  private readonly onBlobsChanged = (): void => this.scheduleInventory()

  constructor(
    private readonly components: LayersComponents,
    private readonly init: LayersInit,
  ) {
    this.log = partLogger(components.logger, 'layers')
    this.images = new ImageIndex(join(init.dataDir, 'images.json'))
    this.store = new BlobStore(join(init.dataDir, 'blobs'), init.storeMaxBytes, () =>
      this.images.referenced(),
    )
    this.blobKey = blobChannelKey(init.swarmKey)
    this.server = new BlobChannelServer(
      this.store,
      this.blobKey,
      partLogger(components.logger, 'layers:blobs'),
      (digest, joinedAt) => this.mayRelayTo(digest, joinedAt),
    )
    this.metrics = createLayerMetrics(components.metrics, () => this.store.usedBytes())
    components.state.registerKind(inventoryKind)
    components.state.registerKind(fetchKind)
  }

  async start(): Promise<void> {
    if (this.running) return
    const config = this.init.registryConfigFile
      ? await RegistryConfig.load(this.init.registryConfigFile, true)
      : await RegistryConfig.load(join(this.init.dataDir, 'registries.json'), false)
    this.registry = new RegistryClient(config, partLogger(this.components.logger, 'layers:registry'))
    await this.images.load()
    await this.store.open()
    this.blobPort = await this.server.start(this.init.blobHost, this.init.blobPort)
    for (const record of this.components.state.list(INVENTORY_KIND))
      this.indexInventory(subjectOf(record.key), record.value as InventoryValue | null)
    this.components.state.on('record:changed', this.onChange)
    this.store.on('blob:added', this.onBlobsChanged)
    this.store.on('blob:removed', this.onBlobsChanged)
    this.running = true
    await this.refreshDockerImages()
    await this.publishInventory()
    this.log.info(
      { blobPort: this.blobPort, blobs: this.store.list().length, images: this.images.list().length },
      'layers started',
    )
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.inventoryTimer)
    clearInterval(this.renewalTimer)
    this.renewalTimer = undefined
    this.components.state.off('record:changed', this.onChange)
    this.store.off('blob:added', this.onBlobsChanged)
    this.store.off('blob:removed', this.onBlobsChanged)
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
      sources: this.sources(),
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
    this.scheduleInventory()
    let docker = false
    if (this.components.docker !== undefined && (await this.components.docker.ping())) {
      await this.components.docker.loadImage(dockerArchive(this.store, image, dockerTag(image.ref)))
      docker = true
      await this.refreshDockerImages()
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
    this.scheduleInventory()
    return image
  }

  /** Images on this node, or on every node (`all`), or on one node. */
  imageViews(options: { all?: boolean; node?: string } = {}): ImageView[] {
    const self = this.components.mesh.peerId
    const views: ImageView[] = []
    for (const [peer, inventory] of this.inventories()) {
      if (options.node !== undefined ? peer !== options.node : options.all !== true && peer !== self) continue
      const node = { node: peer, nodeName: this.components.membership.nameOf(peer) }
      for (const image of inventory.images) views.push({ ...image, ...node, source: 'store' })
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
    for (const [peer, inventory] of this.inventories()) {
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

  /**
   * A manifest for the registry mirror. A digest is served from the store; a tag is looked up among the
   * images pulled anywhere in the cluster (same repository path and tag, any registry), else pulled from
   * `<mirror upstream>/<name>:<tag>`; either way through the mesh, so the origin sees each blob once.
   */
  async mirrorManifest(
    name: string,
    reference: string,
  ): Promise<{ bytes: Buffer; mediaType: string; digest: Digest }> {
    if (isDigest(reference)) {
      if (!this.store.has(reference))
        throw new ManifestNotFoundError(`no manifest ${reference} in this node's store`)
      const bytes = await readAll(this.store.read(reference))
      const known = this.images.list().find((image) => image.digest === reference)
      const declared = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType
      return { bytes, digest: reference, mediaType: known?.mediaType ?? declared ?? MEDIA_TYPES.ociManifest }
    }
    const matches = (ref: string): boolean => {
      const parsed = parseReference(ref)
      const path = parsed.repository.replace(/^library\//, '')
      return parsed.tag === reference && (parsed.repository === name || path === name)
    }
    let image = this.images.list().find((candidate) => matches(candidate.ref))
    if (image === undefined) {
      const elsewhere = this.imageViews({ all: true }).find(
        (view) => view.source === 'store' && matches(view.ref),
      )
      const ref = elsewhere?.ref ?? `${this.init.mirrorUpstream}/${name}:${reference}`
      image = (await this.pull(ref, () => undefined)).image
    }
    const bytes = await readAll(this.store.read(image.digest))
    return { bytes, digest: image.digest, mediaType: image.mediaType }
  }

  /** Nodes whose store or Docker engine holds an image, by reference, from local state only. */
  imageHolders(refText: string): Set<string> {
    const wanted = sameImageAs(refText)
    const holders = new Set<string>()
    // Images only: this node's blobs need not be listed (and sorted) for it.
    for (const [peer, inventory] of this.inventories(0)) {
      if (
        inventory.images.some((image) => wanted(image.ref)) ||
        inventory.docker.some((image) => image.tags.some(wanted))
      )
        holders.add(peer)
    }
    return holders
  }

  /** Peers that hold a blob, from local state only (no network round trip). */
  holdersOf(digest: Digest): string[] {
    return [...(this.holdersByDigest.get(digest) ?? [])]
  }

  /**
   * Every node's inventory; ours comes from the store and index themselves (our record trails them by a
   * moment), with every blob listed, not only the newest ones the record has room for.
   */
  private inventories(ownBlobs = Number.POSITIVE_INFINITY): Map<string, InventoryValue> {
    const result = new Map<string, InventoryValue>()
    for (const record of this.components.state.list(INVENTORY_KIND)) {
      if (record.value !== null && !record.deleted)
        result.set(subjectOf(record.key), record.value as InventoryValue)
    }
    result.set(this.components.mesh.peerId, this.ownInventory(ownBlobs))
    return result
  }

  /**
   * Writes this node's `fetch/<hex>/<self>` claim as it stands, under the stamp it first claimed with (renewals
   * keep its place in the earliest-claim order), and keeps all its claims renewed while it holds any; nothing if
   * it holds no claim on the blob.
   */
  private async putClaim(digest: Digest): Promise<void> {
    const own = this.ownClaims.get(digest)
    if (own === undefined) return
    this.renewalTimer ??= setInterval(() => {
      this.renewClaims().catch((err: Error) => this.log.warn({ err: err.message }, 'could not renew claims'))
    }, CLAIM_RENEW_MS)
    await this.components.state.put(
      fetchKey(digest, this.components.mesh.peerId),
      this.claimValue(digest, own),
    )
  }

  /** Renews every claim this node holds in one write: one gossip message, whatever the number of blobs. */
  private async renewClaims(): Promise<void> {
    if (this.ownClaims.size === 0) {
      clearInterval(this.renewalTimer)
      this.renewalTimer = undefined
      return
    }
    const self = this.components.mesh.peerId
    await this.components.state.write(
      [...this.ownClaims].map(([digest, own]) => ({
        key: fetchKey(digest, self),
        value: this.claimValue(digest, own),
      })),
    )
  }

  private claimValue(digest: Digest, own: OwnClaim): FetchClaim {
    const { claimedAt, size, mode, fetching } = own
    const claim: FetchClaim = { holder: this.components.mesh.peerId, digest, size, claimedAt }
    // An origin claim carries no `mode`: absent means origin, as before relays existed.
    if (mode === 'relay') claim.mode = 'relay'
    if (fetching) claim.fetching = true
    return claim
  }

  private sources(): PullSources {
    const { state, mesh, membership } = this.components
    const self = mesh.peerId
    const alive = (peer: string): boolean => membership.livenessOf(peer) === 'alive'
    return {
      holders: (digest) => {
        const result: PeerEndpoint[] = []
        for (const peer of this.holdersByDigest.get(digest) ?? []) {
          if (peer === self || !alive(peer) || this.isBad(peer)) continue
          const endpoint = this.endpointOf(peer)
          if (endpoint !== undefined) result.push(endpoint)
        }
        return result
      },
      claimant: (digest) => {
        const claim = this.claims.firstClaim(
          digest,
          (peer) => peer !== self && alive(peer) && !this.isBad(peer),
        )
        return claim === undefined ? undefined : this.endpointOf(claim)
      },
      claim: async (digest, size) => {
        // A node that holds a claim keeps its stamp: its place in the chain, and its standing among claimants.
        const held = this.ownClaims.get(digest)
        const claimedAt = held?.claimedAt ?? state.clockNow()
        const claim: OwnClaim = { claimedAt, size, mode: 'origin', fetching: false }
        this.ownClaims.set(digest, claim)
        await this.putClaim(digest)
        const settleMs = this.init.claimSettleMs ?? CLAIM_SETTLE_MS
        const settleStarted = performance.now()
        await sleep(settleMs)
        // A process stalled meanwhile runs this timer before it reads the claims that arrived during the
        // stall: it settles once more, so that it decides on them.
        if (performance.now() - settleStarted > settleMs * 1.5) await sleep(settleMs)
        // The earliest live claim wins (one that says it is fetching first); every node that knows the same
        // claims picks the same one. A small blob can be fetched, announced and released by an earlier claimant
        // within our settle: that one won too. A winner says it is fetching.
        const first = this.claims.firstClaim(digest, (peer) => peer === self || alive(peer))
        const fetchedMeanwhile = this.claims.releasedBefore(
          digest,
          claimedAt,
          (peer) => alive(peer) && this.holdersByDigest.get(digest)?.has(peer) === true,
        )
        if (first === self && !fetchedMeanwhile) {
          claim.fetching = true
          await this.putClaim(digest)
          return true
        }
        // Lost: it stays in the chain as a relay under the same stamp. Peers that took its claim for the
        // claimant's may already stream from it, and others may stream the bytes it has; all of them joined
        // after that stamp, so it may serve them, and no chain can loop back through them. (With a new stamp
        // it refused the peers that followed its claim: SHOAL_RELAY_ORDER in the lab.)
        this.ownClaims.set(digest, { claimedAt, size, mode: 'relay', fetching: false })
        await this.putClaim(digest)
        return false
      },
      releaseClaim: async (digest) => {
        // Announce the blob first: the others must learn where it is before the claim disappears.
        if (this.store.has(digest)) await this.publishInventory()
        this.ownClaims.delete(digest)
        if (state.get(fetchKey(digest, self))?.deleted === false) await state.remove(fetchKey(digest, self))
      },
      joinRelay: async (digest, size, claimant, avoid) => {
        let place = this.ownClaims.get(digest)
        if (place?.mode !== 'relay') {
          // A node that gives up its origin claim (it failed, or gave way to an earlier fetcher) keeps the
          // stamp; one that joins anew waits a moment to see who joins with it.
          const held = place
          place = { claimedAt: held?.claimedAt ?? state.clockNow(), size, mode: 'relay', fetching: false }
          this.ownClaims.set(digest, place)
          await this.putClaim(digest)
          if (held === undefined) await sleep(RELAY_SETTLE_MS)
        }
        const joinedAt = place.claimedAt
        const upstream = this.claims.relayUpstream(
          digest,
          self,
          claimant.peer,
          (peer) => alive(peer) && !this.isBad(peer) && !avoid.has(peer),
        )
        const from = upstream === claimant.peer ? claimant : (this.endpointOf(upstream) ?? claimant)
        this.log.debug(
          { digest, joinedAt, upstream, upstreamJoinedAt: this.claims.stampOf(digest, upstream) },
          'streaming a blob as a relay',
        )
        return { from, joinedAt }
      },
      earlierFetcher: (digest) => {
        if (this.ownClaims.get(digest)?.fetching !== true) return undefined
        return this.claims.earlierFetcher(digest, self, (peer) => alive(peer) && !this.isBad(peer))
      },
      closerUpstream: (digest, current, avoid) => {
        if (this.ownClaims.get(digest)?.mode !== 'relay') return undefined
        const closer = this.claims.closerRelay(
          digest,
          self,
          current,
          (peer) => alive(peer) && !this.isBad(peer) && !avoid.has(peer),
        )
        return closer === undefined ? undefined : this.endpointOf(closer)
      },
      markBad: (peer, digest) => {
        this.badPeers.set(peer, performance.now() + BAD_PEER_MS)
        this.metrics.badPeers.inc()
        this.log.warn(
          { peer, name: this.components.membership.nameOf(peer), digest },
          'peer served bytes that do not match their digest',
        )
      },
    }
  }

  /** A relay passes a blob on only to relays that joined after it (see `RelayPolicy`); others serve anyone. */
  private mayRelayTo(digest: Digest, joinedAt: Stamp | undefined): boolean {
    const own = this.ownClaims.get(digest)
    if (own?.mode !== 'relay') return true
    if (joinedAt !== undefined && compareStamps(joinedAt, own.claimedAt) > 0) return true
    this.log.debug(
      { digest, joinedAt: own.claimedAt, askerJoinedAt: joinedAt },
      'refused a relay that joined first',
    )
    return false
  }

  private isBad(peer: string): boolean {
    const until = this.badPeers.get(peer)
    return until !== undefined && performance.now() < until
  }

  private endpointOf(peer: string): PeerEndpoint | undefined {
    const inventory = this.components.state.get(inventoryKey(peer))?.value as
      | InventoryValue
      | null
      | undefined
    if (inventory == null) return undefined
    const host = this.components.mesh.remoteHost(peer) ?? this.addressHostOf(peer)
    return host === undefined ? undefined : { peer, host, port: inventory.blobPort }
  }

  /** A host from the peer's advertised addresses, when we have no connection to it. */
  private addressHostOf(peer: string): string | undefined {
    const node = this.components.state.get(`${NODE_KIND}/${peer}`)?.value as NodeValue | null | undefined
    for (const address of node?.addresses ?? []) {
      const match = /^\/ip[46]\/([^/]+)\//.exec(address)
      if (match !== null) return match[1]
    }
    return undefined
  }

  private observe(change: RecordChange): void {
    const { record } = change
    if (record.key.startsWith(`${FETCH_KIND}/`)) {
      // A released claim still says who just fetched the blob: ask that node, even if its inventory has not
      // reached us yet, rather than fetch from the origin again.
      const claim = (record.deleted ? change.previous?.value : record.value) as FetchClaim | null | undefined
      if (claim == null) return
      this.claims.observe(claim, record.deleted)
      return
    }
    if (record.key.startsWith(`${INVENTORY_KIND}/`)) {
      this.indexInventory(subjectOf(record.key), record.deleted ? null : (record.value as InventoryValue))
    }
  }

  private indexInventory(peer: string, inventory: InventoryValue | null): void {
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

  private scheduleInventory(): void {
    if (!this.running || this.inventoryTimer !== undefined) return
    this.inventoryTimer = setTimeout(() => {
      this.inventoryTimer = undefined
      this.publishInventory().catch((err: Error) =>
        this.log.warn({ err: err.message }, 'could not publish inventory'),
      )
    }, INVENTORY_DEBOUNCE_MS)
    this.inventoryTimer.unref()
  }

  private async publishInventory(): Promise<void> {
    const value = this.ownInventory(MAX_INVENTORY_BLOBS)
    await this.components.state.put(inventoryKey(this.components.mesh.peerId), value)
  }

  /** What this node holds, as its inventory record says it (with at most `maxBlobs` blobs, newest first). */
  private ownInventory(maxBlobs: number): InventoryValue {
    const stored = this.store.list()
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
      storeBytes: this.store.usedBytes(),
      images: this.images.list().map((image) => ({
        ref: image.ref,
        digest: image.digest,
        layers: image.layers.map((layer) => layer.digest),
        size: image.size,
      })),
      docker: this.dockerImages,
    }
  }

  private async refreshDockerImages(): Promise<void> {
    const docker = this.components.docker
    if (docker === undefined || !(await docker.ping())) return
    try {
      const images = await docker.listImages()
      this.dockerImages = images
        .slice(0, 200)
        .map((image) => ({ id: image.id.slice(0, 100), tags: image.tags.slice(0, 32) }))
      this.scheduleInventory()
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not list Docker images')
    }
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Docker's name for a reference: Docker Hub images without the `docker.io/` prefix. */
function dockerTag(ref: string): string {
  return ref.startsWith('docker.io/') ? ref.slice('docker.io/'.length).replace(/^library\//, '') : ref
}

/** A test for references naming the same image as `refText` (`busybox` is `docker.io/library/busybox:latest`). */
export function sameImageAs(refText: string): (other: string) => boolean {
  const normal = (text: string): string | undefined => {
    try {
      return formatReference(parseReference(text))
    } catch {
      return undefined
    }
  }
  const wanted = normal(refText) ?? refText
  return (other) => other === refText || normal(other) === wanted
}
