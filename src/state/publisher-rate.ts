// A token bucket per gossip publisher: how many records each member may have this node take in, per second.

interface Bucket {
  tokens: number
  /** Monotonic time (ms) the tokens were counted at. */
  at: number
}

/** Publishers tracked at once; past this, buckets that have filled up again (idle publishers) are dropped. */
const MAX_TRACKED_PUBLISHERS = 10_000

export class PublisherRate {
  private readonly buckets = new Map<string, Bucket>()

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `records` tokens from the publisher's bucket; false (and nothing taken) if it holds fewer. */
  take(publisher: string, records: number): boolean {
    const now = this.now()
    let bucket = this.buckets.get(publisher)
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_TRACKED_PUBLISHERS) this.forgetFull(now)
      bucket = { tokens: this.burst, at: now }
      this.buckets.set(publisher, bucket)
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond)
    bucket.at = now
    if (bucket.tokens < records) return false
    bucket.tokens -= records
    return true
  }

  /** A full bucket is the same as none: forgetting it loses nothing. */
  private forgetFull(now: number): void {
    for (const [publisher, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond >= this.burst)
        this.buckets.delete(publisher)
    }
  }
}
