// The pull planner's types: progress events, and what it needs to know about the mesh and its own parts.
import type { Logger } from 'pino'
import type { Stamp } from '../state/index.js'
import type { Digest } from './digest.js'
import type { Platform } from './manifest.js'
import type { RegistryClient } from './registry-client.js'
import type { BlobStore } from './store.js'

export type BlobSource = 'local' | 'origin' | 'peer'

/** One line of pull progress (also what `POST /v1/images/pull` streams, one JSON object per line). */
export type PullEvent =
  | { type: 'resolved'; ref: string; digest: Digest; layers: Array<{ digest: Digest; size: number }> }
  | {
      type: 'blob'
      digest: Digest
      status: 'waiting' | 'downloading' | 'done'
      source?: BlobSource
      current: number
      total: number
    }
  | {
      type: 'done'
      ref: string
      digest: Digest
      bytesFromOrigin: number
      bytesFromPeers: number
      bytesLocal: number
    }

export interface PeerEndpoint {
  peer: string
  host: string
  port: number
}

/** Where this node stands in a blob's relay chain. */
export interface RelayPlace {
  from: PeerEndpoint
  /** The stamp of its relay claim: the node streamed from checks that it joined earlier. */
  joinedAt: Stamp
}

/** What the planner needs to know about the mesh (answered from local state: no network round trip). */
export interface PullSources {
  /** Alive peers whose inventory lists the blob complete, minus peers marked bad. */
  holders(digest: Digest): PeerEndpoint[]
  /** The live claim on the blob by another alive peer not in `avoid` (peers that gave no answer), if any. */
  claimant(digest: Digest, avoid: ReadonlySet<string>): PeerEndpoint | undefined
  /**
   * Joins the relay chain behind `claimant` (or keeps the place this node holds in it); resolves to the node
   * to stream from, passing over the peers in `avoid` where it can, and when this node joined.
   */
  joinRelay(
    digest: Digest,
    size: number,
    claimant: PeerEndpoint,
    avoid: ReadonlySet<string>,
  ): Promise<RelayPlace>
  /**
   * While this node fetches a blob from its origin: an alive peer that fetches it too and claimed it first,
   * if any (both settled without seeing the other's claim). This node gives way and relays from it, keeping
   * the bytes it has: the blob crosses the origin's link about once, not twice. Peers in `avoid` (they gave
   * this node no answer) are not given way to.
   */
  earlierFetcher(digest: Digest, avoid: ReadonlySet<string>): string | undefined
  /**
   * While this node relays from `current`: the relay its view now puts between `current` and itself (the
   * upstream its chain should have), if that differs from `current`. Views that were incomplete when the node
   * joined (several relays joining at once) first make star shapes, one upstream feeding several relays;
   * moving to the closer relay turns them back into a chain, where each uplink carries the blob once.
   */
  closerUpstream(digest: Digest, current: string, avoid: ReadonlySet<string>): PeerEndpoint | undefined
  /**
   * Claims the blob (under the stamp of the claim this node holds, if any); resolves true if the claim still
   * stands after the settle time. A claim lost leaves this node a relay under the same stamp (released, like
   * any claim, with releaseClaim). Claims are renewed, keeping their stamps, until they are released. Claims
   * of peers in `avoid` (they gave this node no answer) do not count against it: it could not relay from them.
   */
  claim(digest: Digest, size: number, avoid: ReadonlySet<string>): Promise<boolean>
  releaseClaim(digest: Digest): Promise<void>
  /** A peer served bytes that did not match their digest. */
  markBad(peer: string, digest: Digest): void
}

export interface PullComponents {
  store: BlobStore
  registry: RegistryClient
  sources: PullSources
  blobKey: Buffer
  log: Logger
  platform: Platform
}
