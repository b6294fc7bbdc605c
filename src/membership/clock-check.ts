// Compares this node's clock with its peers' (from probe round trips): is ours ahead, is one of theirs?
import { CLOCK_SAMPLE_TTL_MS } from './constants.js'

interface Sample {
  /** Our wall clock minus the peer's, at the moment it answered (ms; positive: ours is ahead). */
  oursAheadMs: number
  at: number
}

/**
 * Peers refuse records stamped too far ahead of their clocks, so a node whose clock runs ahead is not heard at
 * all; it must notice by itself, and its peers must notice too (its records are refused: it cannot coordinate).
 * Every probe answer carries the peer's wall clock; with the round trip halved, `our clock − theirs` is the
 * difference within a few ms, as NTP estimates it. If the median over peers exceeds the skew bound, it is this
 * node's clock that is off (one peer alone may be the odd one out; the median is not).
 */
export class ClockCheck {
  private readonly samples = new Map<string, Sample>()

  constructor(
    private readonly maxSkewMs: number,
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {}

  /** A probe answered: sent at `sentAt` (our wall clock), answered with the peer's `peerWall` after `rttMs`. */
  observe(peer: string, sentAt: number, rttMs: number, peerWall: number): void {
    this.samples.set(peer, { oursAheadMs: sentAt + rttMs / 2 - peerWall, at: this.monotonicNow() })
  }

  forget(peer: string): void {
    this.samples.delete(peer)
  }

  /** How far ahead of its peers this node's clock runs, if beyond the skew bound; else undefined. */
  aheadByMs(): number | undefined {
    const offsets = this.fresh().map((sample) => sample.oursAheadMs)
    if (offsets.length === 0) return undefined
    offsets.sort((a, b) => a - b)
    const median = offsets[Math.floor(offsets.length / 2)]!
    return median > this.maxSkewMs ? median : undefined
  }

  /** True if the peer's clock runs ahead of ours beyond the skew bound: we refuse its records. */
  peerAhead(peer: string): boolean {
    const sample = this.samples.get(peer)
    if (sample === undefined || sample.at < this.monotonicNow() - CLOCK_SAMPLE_TTL_MS) return false
    return -sample.oursAheadMs > this.maxSkewMs
  }

  private fresh(): Sample[] {
    const cutoff = this.monotonicNow() - CLOCK_SAMPLE_TTL_MS
    const fresh: Sample[] = []
    for (const [peer, sample] of this.samples) {
      if (sample.at < cutoff) this.samples.delete(peer)
      else fresh.push(sample)
    }
    return fresh
  }
}
