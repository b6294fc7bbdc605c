// The pull planner's view of the mesh: holders, claimants and relay chains, answered from local state.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { Membership } from '../membership/index.js'
import type { Mesh } from '../mesh/index.js'
import type { Stamp } from '../state/index.js'
import { BAD_PEER_MS, CLAIM_SETTLE_MS, RELAY_SETTLE_MS } from './constants.js'
import type { Digest } from './digest.js'
import type { FetchClaims, OwnClaim } from './fetch-claims.js'
import type { Inventory } from './inventory.js'
import type { LayerMetrics } from './metrics.js'
import type { PeerEndpoint, PullSources } from './pull-types.js'
import type { BlobStore } from './store.js'

export interface PullSourceComponents {
  store: BlobStore
  inventory: Inventory
  claims: FetchClaims
  membership: Pick<Membership, 'livenessOf' | 'nameOf' | 'addressesOf'>
  mesh: Pick<Mesh, 'peerId' | 'remoteHost'>
  clockNow(): Stamp
  metrics: LayerMetrics
  log: Logger
  /** @default CLAIM_SETTLE_MS */
  claimSettleMs?: number
}

/** Peers that served bytes not matching their digest, avoided for BAD_PEER_MS. */
export class BadPeers {
  private readonly until = new Map<string, number>()

  mark(peer: string): void {
    this.until.set(peer, performance.now() + BAD_PEER_MS)
  }

  has(peer: string): boolean {
    const until = this.until.get(peer)
    return until !== undefined && performance.now() < until
  }
}

export function createPullSources(c: PullSourceComponents, badPeers: BadPeers): PullSources {
  const self = c.mesh.peerId
  const book = c.claims.book
  const alive = (peer: string): boolean => c.membership.livenessOf(peer) === 'alive'
  const usable = (peer: string): boolean => alive(peer) && !badPeers.has(peer)
  const endpointOf = (peer: string): PeerEndpoint | undefined => {
    const port = c.inventory.blobPortOf(peer)
    if (port === undefined) return undefined
    const host = c.mesh.remoteHost(peer) ?? addressHostOf(c.membership.addressesOf(peer))
    return host === undefined ? undefined : { peer, host, port }
  }
  return {
    holders: (digest) => {
      const result: PeerEndpoint[] = []
      for (const peer of c.inventory.holdersOf(digest)) {
        if (peer === self || !usable(peer)) continue
        const endpoint = endpointOf(peer)
        if (endpoint !== undefined) result.push(endpoint)
      }
      return result
    },
    claimant: (digest, avoid) => {
      const claim = book.firstClaim(digest, (peer) => peer !== self && usable(peer) && !avoid.has(peer))
      return claim === undefined ? undefined : endpointOf(claim)
    },
    claim: async (digest, size, avoid) => {
      // A node that holds a claim keeps its stamp: its place in the chain, and its standing among claimants.
      const claimedAt = c.claims.ownClaim(digest)?.claimedAt ?? c.clockNow()
      const claim: OwnClaim = { claimedAt, size, mode: 'origin', fetching: false }
      await c.claims.hold(digest, claim)
      const settleMs = c.claimSettleMs ?? CLAIM_SETTLE_MS
      const settleStarted = performance.now()
      await sleep(settleMs)
      // A process stalled meanwhile runs this timer before it reads the claims that arrived during the
      // stall: it settles once more, so that it decides on them.
      if (performance.now() - settleStarted > settleMs * 1.5) await sleep(settleMs)
      // The earliest live claim wins (one that says it is fetching first); every node that knows the same
      // claims picks the same one. A small blob can be fetched, announced and released by an earlier claimant
      // within our settle: that one won too. A winner says it is fetching.
      // Peers that gave this node no answer are left out: losing to one of them would leave it no source.
      const reachable = (peer: string): boolean => alive(peer) && !avoid.has(peer)
      const first = book.firstClaim(digest, (peer) => peer === self || reachable(peer))
      const fetchedMeanwhile = book.releasedBefore(
        digest,
        claimedAt,
        (peer) => reachable(peer) && c.inventory.holdersOf(digest).has(peer),
      )
      if (first === self && !fetchedMeanwhile) {
        claim.fetching = true
        await c.claims.write(digest)
        return true
      }
      // Lost: it stays in the chain as a relay under the same stamp. Peers that took its claim for the
      // claimant's may already stream from it, and others may stream the bytes it has; all of them joined
      // after that stamp, so it may serve them, and no chain can loop back through them. (With a new stamp
      // it refused the peers that followed its claim: SHOAL_RELAY_ORDER in the lab.)
      await c.claims.hold(digest, { claimedAt, size, mode: 'relay', fetching: false })
      return false
    },
    releaseClaim: async (digest) => {
      // Announce the blob first: the others must learn where it is before the claim disappears.
      if (c.store.has(digest)) await c.inventory.publish()
      await c.claims.release(digest)
    },
    joinRelay: async (digest, size, claimant, avoid) => {
      let place = c.claims.ownClaim(digest)
      if (place?.mode !== 'relay') {
        // A node that gives up its origin claim (it failed, or gave way to an earlier fetcher) keeps the
        // stamp; one that joins anew waits a moment to see who joins with it.
        const held = place
        place = { claimedAt: held?.claimedAt ?? c.clockNow(), size, mode: 'relay', fetching: false }
        await c.claims.hold(digest, place)
        if (held === undefined) await sleep(RELAY_SETTLE_MS)
      }
      const joinedAt = place.claimedAt
      const upstream = book.relayUpstream(
        digest,
        self,
        claimant.peer,
        (peer) => usable(peer) && !avoid.has(peer),
      )
      const from = upstream === claimant.peer ? claimant : (endpointOf(upstream) ?? claimant)
      c.log.debug(
        { digest, joinedAt, upstream, upstreamJoinedAt: book.stampOf(digest, upstream) },
        'streaming a blob as a relay',
      )
      return { from, joinedAt }
    },
    earlierFetcher: (digest, avoid) => {
      if (c.claims.ownClaim(digest)?.fetching !== true) return undefined
      return book.earlierFetcher(digest, self, (peer) => usable(peer) && !avoid.has(peer))
    },
    closerUpstream: (digest, current, avoid) => {
      if (c.claims.ownClaim(digest)?.mode !== 'relay') return undefined
      const closer = book.closerRelay(digest, self, current, (peer) => usable(peer) && !avoid.has(peer))
      return closer === undefined ? undefined : endpointOf(closer)
    },
    markBad: (peer, digest: Digest) => {
      badPeers.mark(peer)
      c.metrics.badPeers.inc()
      c.log.warn(
        { peer, name: c.membership.nameOf(peer), digest },
        'peer served bytes that do not match their digest',
      )
    },
  }
}

/** A host from a peer's advertised addresses, when we have no connection to it. */
function addressHostOf(addresses: readonly string[]): string | undefined {
  for (const address of addresses) {
    const match = /^\/ip[46]\/([^/]+)\//.exec(address)
    if (match !== null) return match[1]
  }
  return undefined
}
