// The local image index: which references this node pulled, and the manifest, config and layers of each.
import { readFile, rename } from 'node:fs/promises'
import { z } from 'zod'
import { InvalidReferenceError } from '../errors.js'
import { replaceFileAtomically } from '../util/atomic-file.js'
import { type Digest, isDigest } from './digest.js'
import { parseReference } from './reference.js'

const digest = z.string().refine(isDigest) as unknown as z.ZodType<Digest>

export const localImageSchema = z.object({
  ref: z.string(),
  /** Digest of the platform manifest. */
  digest,
  mediaType: z.string(),
  config: z.object({ digest, size: z.number().int().nonnegative() }),
  layers: z.array(
    z.object({ digest, size: z.number().int().nonnegative(), mediaType: z.string().optional() }),
  ),
  size: z.number().int().nonnegative(),
  pulledAt: z.string(),
})
export type LocalImage = z.infer<typeof localImageSchema>

/** The file's outline; each entry is checked on its own, so one bad entry costs only itself. */
const fileSchema = z.object({ images: z.array(z.unknown()) })

/** What loading the index found. */
export type IndexLoad =
  | { state: 'absent' | 'loaded' }
  | {
      /** The file is not JSON, not an index, or has entries that are not images: it was moved aside. */
      state: 'damaged'
      reason: string
      /** Where the damaged file now is (`images.json.corrupt-<time>`). */
      keptAs: string
      /** Entries that were not images, and were dropped (the good ones are loaded). */
      dropped: number
    }

export class ImageIndex {
  private readonly images = new Map<string, LocalImage>()
  /** Writes of the file, one after another: each writes the index as it stands when its turn comes. */
  private writes: Promise<void> = Promise.resolve()

  constructor(private readonly path: string) {}

  /**
   * Loads the file. A file that cannot be read as an index (not JSON, the wrong shape, entries that are not
   * images) does not stop the daemon: it is moved aside, whatever entries are sound are loaded, and the caller
   * rebuilds the rest (see image-rebuild.ts).
   */
  async load(): Promise<IndexLoad> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' }
      throw err
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      return this.setAside(`not JSON (${(err as Error).message})`, 0)
    }
    const file = fileSchema.safeParse(json)
    if (!file.success) return this.setAside('not an image index (no "images" list)', 0)
    let dropped = 0
    for (const entry of file.data.images) {
      const image = localImageSchema.safeParse(entry)
      if (image.success && isReference(image.data.ref)) this.images.set(image.data.ref, image.data)
      else dropped++
    }
    if (dropped > 0) return this.setAside(`${dropped} of its entries are not images`, dropped)
    return { state: 'loaded' }
  }

  get(ref: string): LocalImage | undefined {
    return this.images.get(ref)
  }

  list(): LocalImage[] {
    return [...this.images.values()].sort((a, b) => a.ref.localeCompare(b.ref))
  }

  async put(image: LocalImage): Promise<void> {
    this.images.set(image.ref, image)
    await this.save()
  }

  /** Adds images recovered after a damaged file, without replacing any the file still had; writes the file. */
  async restore(images: readonly LocalImage[]): Promise<void> {
    for (const image of images) if (!this.images.has(image.ref)) this.images.set(image.ref, image)
    await this.save()
  }

  async remove(ref: string): Promise<boolean> {
    const had = this.images.delete(ref)
    if (had) await this.save()
    return had
  }

  /** Every blob an indexed image uses (manifest, config, layers): these are never evicted. */
  referenced(): Set<Digest> {
    const digests = new Set<Digest>()
    for (const image of this.images.values()) {
      digests.add(image.digest)
      digests.add(image.config.digest)
      for (const layer of image.layers) digests.add(layer.digest)
    }
    return digests
  }

  /**
   * Writes the index after the writes before it (concurrent puts once shared one temporary file, and all but
   * one failed with ENOENT). Each caller learns whether its write landed; a failed write does not stop the
   * next one, which writes the whole index again.
   */
  private save(): Promise<void> {
    const write = this.writes.then(() =>
      replaceFileAtomically(this.path, `${JSON.stringify({ images: this.list() }, null, 2)}\n`),
    )
    // The chain only orders the writes: the failure is the caller's (it awaits `write`), not the next writer's.
    this.writes = write.catch(() => undefined)
    return write
  }

  /** Moves a damaged file aside (kept for a person to look at) and reports what was wrong with it. */
  private async setAside(reason: string, dropped: number): Promise<IndexLoad> {
    const keptAs = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`
    await rename(this.path, keptAs)
    return { state: 'damaged', reason, keptAs, dropped }
  }
}

/** True for text that parses as an image reference (the index holds only those; anything else is damage). */
function isReference(ref: string): boolean {
  try {
    parseReference(ref)
    return true
  } catch (err) {
    // Not a reference: the entry is dropped and counted, and the file kept aside for a person to look at.
    if (err instanceof InvalidReferenceError) return false
    throw err
  }
}
