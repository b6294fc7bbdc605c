// The layers part's types: image and layer views, pull results, options and what it needs of the daemon.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { DockerEngine } from '../docker/index.js'
import type { Membership } from '../membership/index.js'
import type { Mesh } from '../mesh/index.js'
import type { ReplicatedState } from '../state/index.js'
import type { Digest } from './digest.js'
import type { LocalImage } from './images.js'

/** An image as `shoal image list --json` shows it. */
export interface ImageView {
  ref: string
  /** Manifest digest (store images) or image id (Docker engine images). */
  digest: Digest
  layers: Digest[]
  size: number
  node: string
  nodeName: string
  /** `store`: pulled by shoal into its content store; `docker`: present in the node's Docker engine. */
  source: 'store' | 'docker'
}

/** A blob as `shoal layer list --json` shows it. */
export interface LayerView {
  digest: Digest
  size: number
  /** Peer ids of the nodes that hold it. */
  holders: string[]
}

export interface PullResult {
  image: LocalImage
  bytesFromOrigin: number
  bytesFromPeers: number
  loadedIntoDocker: boolean
}

export interface LayersInit {
  dataDir: string
  swarmKey: Uint8Array
  /** Cap on the content store (`--store-max`). */
  storeMaxBytes: number
  /** Blob channel listen address and port (`--blob-port`, 0 = any). */
  blobHost: string
  blobPort: number
  /** `--registry-config FILE`; else `<data-dir>/registries.json` if present. */
  registryConfigFile?: string
  /** Registry the mirror maps unknown names to (`--mirror-upstream`, default docker.io). */
  mirrorUpstream: string
  /**
   * Whether a /v2 request for an image this node lacks may pull it, with this node's credentials
   * (`--mirror-pull`). @default false: such a request is answered 404 MANIFEST_UNKNOWN.
   */
  mirrorPull?: boolean
  /** @default CLAIM_SETTLE_MS */
  claimSettleMs?: number
}

export interface LayersComponents {
  state: ReplicatedState
  mesh: Pick<Mesh, 'peerId' | 'remoteHost'>
  /** Who is alive, their names and addresses. */
  membership: Pick<Membership, 'livenessOf' | 'nameOf' | 'addressesOf'>
  docker?: Pick<DockerEngine, 'ping' | 'listImages' | 'loadImage'>
  logger: Logger
  metrics: Registry
}
