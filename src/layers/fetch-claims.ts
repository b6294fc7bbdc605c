// Fetch claims: this node's own `fetch/<hex>/<peerId>` records (written, renewed, released) and everyone's, in a ClaimBook.
import type { Logger } from 'pino'
import type { KindHandle, LocalWrite, ReplicatedState, Stamp } from '../state/index.js'
import { compareStamps } from '../state/index.js'
import { ClaimBook } from './claims.js'
import { CLAIM_RENEW_MS } from './constants.js'
import type { Digest } from './digest.js'
import { type FetchClaim, fetchClaimId, fetchKind } from './records.js'

/** A claim this node holds on a blob. */
export interface OwnClaim {
  /** When it first claimed the blob: kept across renewals and mode changes (its place in the chain). */
  claimedAt: Stamp
  size: number
  /** `origin`: it fetches (or asks to fetch) the blob from its registry; `relay`: it streams it from a peer. */
  mode: 'origin' | 'relay'
  /** It won the origin fetch. */
  fetching: boolean
}

export class FetchClaims {
  /** Everyone's claims, this node's included, as the records say them. */
  readonly book = new ClaimBook()
  private readonly records: KindHandle<FetchClaim>
  private readonly self: string
  private readonly own = new Map<Digest, OwnClaim>()
  /** Renews every claim this node holds, all in one write (one gossip message), while it holds any. */
  private renewalTimer: NodeJS.Timeout | undefined
  private unwatch: (() => void) | undefined

  constructor(
    state: ReplicatedState,
    private readonly log: Logger,
  ) {
    this.records = state.kind(fetchKind)
    this.self = state.peerId
  }

  start(): void {
    if (this.unwatch !== undefined) return
    this.unwatch = this.records.watch(({ record, previous, value }) => {
      // A released claim still says who just fetched the blob: ask that node, even if its inventory has not
      // reached us yet, rather than fetch from the origin again.
      const claim = value ?? previous?.value ?? undefined
      if (claim !== undefined) this.book.observe(claim, record?.deleted === true)
    })
  }

  stop(): void {
    this.unwatch?.()
    this.unwatch = undefined
    clearInterval(this.renewalTimer)
    this.renewalTimer = undefined
  }

  /** The claim this node holds on a blob, if any. */
  ownClaim(digest: Digest): OwnClaim | undefined {
    return this.own.get(digest)
  }

  /**
   * Holds `claim` on the blob and writes it as it stands, under the stamp it first claimed with (renewals keep
   * its place in the earliest-claim order); all claims held are renewed while this node holds any.
   */
  async hold(digest: Digest, claim: OwnClaim): Promise<void> {
    this.own.set(digest, claim)
    await this.write(digest)
  }

  /** Writes the claim held on a blob again, as it stands now (after its `fetching` flag changed). */
  async write(digest: Digest): Promise<void> {
    const own = this.own.get(digest)
    if (own === undefined) return
    this.renewalTimer ??= setInterval(() => {
      this.renew().catch((err: Error) => this.log.warn({ err: err.message }, 'could not renew claims'))
    }, CLAIM_RENEW_MS)
    await this.records.put(fetchClaimId(digest, this.self), this.valueOf(digest, own))
  }

  /** Gives up this node's claim on a blob and deletes its record. */
  async release(digest: Digest): Promise<void> {
    this.own.delete(digest)
    const id = fetchClaimId(digest, this.self)
    if (this.records.get(id)?.deleted === false) await this.records.remove(id)
  }

  /** Deletions of a gone node's claims (they lapsed long ago, but their records stay until deleted). */
  removalsFor(peer: string): LocalWrite[] {
    return this.records
      .list()
      .filter((record) => record.value?.holder === peer)
      .map((record) => this.records.removal(this.records.idOf(record.key)))
  }

  /** A relay passes a blob on only to relays that joined after it (see `RelayPolicy`); others serve anyone. */
  mayRelayTo(digest: Digest, joinedAt: Stamp | undefined): boolean {
    const own = this.own.get(digest)
    if (own?.mode !== 'relay') return true
    if (joinedAt !== undefined && compareStamps(joinedAt, own.claimedAt) > 0) return true
    this.log.debug(
      { digest, joinedAt: own.claimedAt, askerJoinedAt: joinedAt },
      'refused a relay that joined first',
    )
    return false
  }

  /** Renews every claim this node holds in one write: one gossip message, whatever the number of blobs. */
  private async renew(): Promise<void> {
    if (this.own.size === 0) {
      clearInterval(this.renewalTimer)
      this.renewalTimer = undefined
      return
    }
    await this.records.putMany(
      [...this.own].map(([digest, own]) => [fetchClaimId(digest, this.self), this.valueOf(digest, own)]),
    )
  }

  private valueOf(digest: Digest, own: OwnClaim): FetchClaim {
    const { claimedAt, size, mode, fetching } = own
    const claim: FetchClaim = { holder: this.self, digest, size, claimedAt }
    // An origin claim carries no `mode`: absent means origin, as before relays existed.
    if (mode === 'relay') claim.mode = 'relay'
    if (fetching) claim.fetching = true
    return claim
  }
}
