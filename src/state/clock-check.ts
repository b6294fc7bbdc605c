// Notices when this node's own clock runs ahead of its peers': their fresh gossip then looks old to us.
import { CLOCK_SAMPLE_TTL_MS } from './constants.js'

interface Sample {
  /** Our wall clock minus the stamp of a record the peer had just written. */
  offsetMs: number
  at: number
}

/**
 * Peers refuse records stamped too far ahead of their clocks, so a node whose clock runs ahead is not
 * heard at all; it must notice by itself. Gossip carries records moments after they are written, so
 * `now − stamp` is the clock difference plus a few ms. If the median over peers exceeds the skew bound,
 * it is this node's clock that is off (one peer alone may be the odd one out; the median is not).
 */
export class ClockCheck {
  private readonly samples = new Map<string, Sample>()

  constructor(
    private readonly maxSkewMs: number,
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {}

  observe(peer: string, offsetMs: number): void {
    this.samples.set(peer, { offsetMs, at: this.monotonicNow() })
  }

  /** How far ahead of its peers this node's clock runs, if beyond the skew bound; else undefined. */
  aheadByMs(): number | undefined {
    const cutoff = this.monotonicNow() - CLOCK_SAMPLE_TTL_MS
    const offsets: number[] = []
    for (const [peer, sample] of this.samples) {
      if (sample.at < cutoff) this.samples.delete(peer)
      else offsets.push(sample.offsetMs)
    }
    if (offsets.length === 0) return undefined
    offsets.sort((a, b) => a - b)
    const median = offsets[Math.floor(offsets.length / 2)]!
    return median > this.maxSkewMs ? median : undefined
  }
}
