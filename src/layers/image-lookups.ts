// Layer lists of images no node holds yet, looked up once in their registry, so placement can weigh partial holders.
import type { Logger } from 'pino'
import { IMAGE_LOOKUP_RETRY_MS, IMAGE_LOOKUP_WAIT_MS, MAX_IMAGE_LOOKUPS } from './constants.js'
import type { Digest } from './digest.js'

export interface ImageLayer {
  digest: Digest
  size: number
}

/** `pending`: being looked up, worth waiting for; `unknown`: not to be had now (failed, or too slow). */
export type LookedUp = { layers: ImageLayer[] } | 'pending' | 'unknown'

interface Entry {
  layers?: ImageLayer[]
  /** When the first lookup started (placement waits on it until IMAGE_LOOKUP_WAIT_MS after). */
  startedAt: number
  failedAt?: number
  running: boolean
}

export class ImageLookups {
  private readonly entries = new Map<string, Entry>()

  constructor(
    private readonly resolve: (ref: string) => Promise<ImageLayer[]>,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * The image's layers if known; else starts a lookup (at most one at a time per image, again only
   * IMAGE_LOOKUP_RETRY_MS after a failure) and says whether it is worth waiting for: only the first lookup of an
   * image, for IMAGE_LOOKUP_WAIT_MS. A tag that moves keeps its first answer: it only weighs placement.
   */
  get(ref: string): LookedUp {
    const now = this.now()
    let entry = this.entries.get(ref)
    if (entry?.layers !== undefined) return { layers: entry.layers }
    if (entry === undefined) {
      entry = { startedAt: now, running: false }
      this.remember(ref, entry)
    }
    if (!entry.running && (entry.failedAt === undefined || now - entry.failedAt >= IMAGE_LOOKUP_RETRY_MS)) {
      this.start(ref, entry)
    }
    return entry.running && entry.failedAt === undefined && now - entry.startedAt < IMAGE_LOOKUP_WAIT_MS
      ? 'pending'
      : 'unknown'
  }

  private start(ref: string, entry: Entry): void {
    entry.running = true
    this.resolve(ref).then(
      (layers) => {
        entry.layers = layers
        entry.running = false
      },
      (err: Error) => {
        // Placement goes on without it (whole holders only); the pull that follows reports its own failure.
        this.log.debug({ ref, err: err.message }, 'could not look up the layers of an image to place work')
        entry.failedAt = this.now()
        entry.running = false
      },
    )
  }

  private remember(ref: string, entry: Entry): void {
    if (this.entries.size >= MAX_IMAGE_LOOKUPS) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(ref, entry)
  }
}
