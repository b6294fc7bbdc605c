// What this node knows of fetch claims: who fetches each blob from its origin, and the relay chain behind them.
import type { Stamp } from '../state/index.js'
import { compareStamps } from '../state/index.js'
import { CLAIM_TTL_MS } from './constants.js'
import type { Digest } from './digest.js'
import type { FetchClaim } from './records.js'

interface ClaimEntry {
  claimedAt: Stamp
  /** Monotonic time we last saw the claim change (claims lapse CLAIM_TTL_MS after that). */
  seenAt: number
  released: boolean
  relay: boolean
  fetching: boolean
}

export class ClaimBook {
  private readonly claims = new Map<Digest, Map<string, ClaimEntry>>()

  /** A claim record changed (`released`: it was deleted; `claim` is then the value it had). */
  observe(claim: FetchClaim, released: boolean): void {
    let byPeer = this.claims.get(claim.digest)
    if (byPeer === undefined) {
      byPeer = new Map()
      this.claims.set(claim.digest, byPeer)
    }
    byPeer.set(claim.holder, {
      claimedAt: claim.claimedAt,
      seenAt: performance.now(),
      released,
      relay: claim.mode === 'relay',
      fetching: claim.fetching === true,
    })
    this.prune(claim.digest)
  }

  /**
   * The claimant to follow for a blob: the earliest live claim among peers passing `eligible` that says it is
   * fetching, else the earliest live claim; failing both, a peer that released a fetching claim moments ago (it
   * just fetched the blob, even if its inventory is late; a claimant that lost its settle is a relay now, and its
   * claim never said it was fetching). A fetching claim goes first because an earlier claim can reach the
   * others after they settled (its process was stalled): the blob stays with the one fetching it.
   */
  firstClaim(digest: Digest, eligible: (peer: string) => boolean): string | undefined {
    const now = performance.now()
    let first: { peer: string; claimedAt: Stamp; fetching: boolean } | undefined
    let released: string | undefined
    for (const [peer, claim] of this.claims.get(digest) ?? []) {
      if (claim.relay || !eligible(peer) || now - claim.seenAt > CLAIM_TTL_MS) continue
      if (claim.released) {
        if (claim.fetching) released ??= peer
        continue
      }
      const better =
        first === undefined ||
        (claim.fetching && !first.fetching) ||
        (claim.fetching === first.fetching && compareStamps(claim.claimedAt, first.claimedAt) < 0)
      if (better) first = { peer, claimedAt: claim.claimedAt, fetching: claim.fetching }
    }
    return first?.peer ?? released
  }

  /**
   * True if a peer passing `eligible` claimed the blob before `stamp` and has released that claim (within the
   * claim lifetime): it fetched the blob while we waited to settle ours.
   */
  releasedBefore(digest: Digest, stamp: Stamp, eligible: (peer: string) => boolean): boolean {
    const now = performance.now()
    for (const [peer, claim] of this.claims.get(digest) ?? []) {
      if (!claim.released || claim.relay || now - claim.seenAt > CLAIM_TTL_MS) continue
      if (compareStamps(claim.claimedAt, stamp) < 0 && eligible(peer)) return true
    }
    return false
  }

  /**
   * Another peer passing `eligible` whose live origin claim says it is fetching the blob and was made before
   * this node's (`self`, fetching too): the two settled without seeing each other's claims (a daemon stalled,
   * gossip came late). Every node orders the two claims alike, so exactly one of them gives way.
   */
  earlierFetcher(digest: Digest, self: string, eligible: (peer: string) => boolean): string | undefined {
    const byPeer = this.claims.get(digest)
    const mine = byPeer?.get(self)
    if (mine === undefined || !mine.fetching || mine.relay) return undefined
    const now = performance.now()
    for (const [peer, claim] of byPeer ?? []) {
      if (peer === self || claim.relay || claim.released || !claim.fetching) continue
      if (now - claim.seenAt > CLAIM_TTL_MS || !eligible(peer)) continue
      if (compareStamps(claim.claimedAt, mine.claimedAt) < 0) return peer
    }
    return undefined
  }

  /**
   * Who this node streams a blob from: the relays line up by the time they joined, and each takes the bytes
   * from the one before it (the first from the claimant). A chain moves the blob across every link at full
   * speed at once; everyone streaming from the claimant would share its one uplink N ways.
   */
  relayUpstream(digest: Digest, self: string, claimant: string, usable: (peer: string) => boolean): string {
    const now = performance.now()
    const relays = [...(this.claims.get(digest) ?? [])]
      .filter(
        ([peer, claim]) =>
          claim.relay &&
          !claim.released &&
          now - claim.seenAt <= CLAIM_TTL_MS &&
          (peer === self || usable(peer)),
      )
      .sort(([, a], [, b]) => compareStamps(a.claimedAt, b.claimedAt))
      .map(([peer]) => peer)
    const position = relays.indexOf(self)
    return position <= 0 ? claimant : relays[position - 1]!
  }

  /**
   * The relay that joined between `current` (this node's upstream) and `self`, closest to `self`: the upstream
   * the chain wants, if it is not `current`. Undefined while `current` is right, and once `current` holds no
   * live claim (it has the whole blob, or it is gone and its stream ends anyway).
   */
  closerRelay(
    digest: Digest,
    self: string,
    current: string,
    usable: (peer: string) => boolean,
  ): string | undefined {
    const byPeer = this.claims.get(digest)
    const upstream = byPeer?.get(current)
    if (upstream === undefined || upstream.released || performance.now() - upstream.seenAt > CLAIM_TTL_MS)
      return undefined
    const wanted = this.relayUpstream(digest, self, current, usable)
    const wantedClaim = byPeer?.get(wanted)
    if (wanted === current || wantedClaim === undefined) return undefined
    return compareStamps(wantedClaim.claimedAt, upstream.claimedAt) > 0 ? wanted : undefined
  }

  /** The stamp of a peer's claim on a blob, as this node knows it (for the log). */
  stampOf(digest: Digest, peer: string): Stamp | undefined {
    return this.claims.get(digest)?.get(peer)?.claimedAt
  }

  private prune(digest: Digest): void {
    const byPeer = this.claims.get(digest)
    if (byPeer === undefined) return
    const now = performance.now()
    for (const [peer, claim] of byPeer) if (now - claim.seenAt > CLAIM_TTL_MS) byPeer.delete(peer)
    if (byPeer.size === 0) this.claims.delete(digest)
  }
}
