// The local image index: which references this node pulled, and the manifest, config and layers of each.
import { readFile, rename, writeFile } from 'node:fs/promises'
import { z } from 'zod'
import { type Digest, isDigest } from './digest.js'

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

const fileSchema = z.object({ images: z.array(localImageSchema) })

export class ImageIndex {
  private readonly images = new Map<string, LocalImage>()

  constructor(private readonly path: string) {}

  async load(): Promise<void> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    const parsed = fileSchema.safeParse(JSON.parse(text))
    if (!parsed.success) return
    for (const image of parsed.data.images) this.images.set(image.ref, image)
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

  private async save(): Promise<void> {
    const temp = `${this.path}.tmp`
    await writeFile(temp, `${JSON.stringify({ images: this.list() }, null, 2)}\n`, { mode: 0o600 })
    await rename(temp, this.path)
  }
}
