// Manifests for the read-only registry mirror: from this node's store, and pulled through the mesh only when allowed.
import type { Readable } from 'node:stream'
import { InvalidReferenceError, ManifestInvalidError, ManifestNotFoundError } from '../errors.js'
import { MAX_MANIFEST_BYTES } from './constants.js'
import type { Digest } from './digest.js'
import { isDigest } from './digest.js'
import type { ImageIndex, LocalImage } from './images.js'
import { MEDIA_TYPES, parseManifest } from './manifest.js'
import { parseReference } from './reference.js'
import type { BlobStore } from './store.js'
import type { ImageView } from './types.js'

export interface MirroredManifest {
  bytes: Buffer
  mediaType: string
  digest: Digest
}

export interface MirrorComponents {
  store: BlobStore
  images: ImageIndex
  /** Images held anywhere in the cluster, from local state. */
  clusterImages(): ImageView[]
  /** Pulls an image into this node (its credentials, its registries), through the mesh. */
  pull(ref: string): Promise<LocalImage>
}

export interface MirrorInit {
  /** Registry unknown names map to (`--mirror-upstream`). */
  upstream: string
  /** Whether a request may start a pull (`--mirror-pull`); without it only this node's images are served. */
  pull: boolean
}

export class Mirror {
  constructor(
    private readonly c: MirrorComponents,
    private readonly init: MirrorInit,
  ) {}

  /**
   * A manifest by digest comes from this node's store. A tag is looked up among this node's images (same
   * repository path and tag, any registry). Only with `--mirror-pull` does a miss start a pull, with this
   * node's credentials: of such an image pulled by another node, else of `<upstream>/<name>:<tag>`. A GET
   * anyone on the HTTP port can send must not spend this node's registry access (or its disk) otherwise.
   */
  async manifest(name: string, reference: string): Promise<MirroredManifest> {
    if (isDigest(reference)) return this.byDigest(reference)
    const matches = sameRepositoryAndTag(name, reference)
    let image = this.c.images.list().find((candidate) => matches(candidate.ref))
    if (image === undefined) {
      if (!this.init.pull) {
        throw new ManifestNotFoundError(
          `no image ${name}:${reference} on this node (the mirror pulls images only with --mirror-pull)`,
        )
      }
      const elsewhere = this.c.clusterImages().find((view) => view.source === 'store' && matches(view.ref))
      image = await this.c.pull(elsewhere?.ref ?? `${this.init.upstream}/${name}:${reference}`)
    }
    return this.byDigest(image.digest, image.mediaType)
  }

  /**
   * A manifest from the store, read only if it is no bigger than a manifest may be (any blob can be asked for
   * as a manifest: a layer of gigabytes must not be read into memory), and served only if it is one.
   */
  private async byDigest(digest: Digest, knownType?: string): Promise<MirroredManifest> {
    const blob = this.c.store.get(digest)
    if (blob === undefined) throw new ManifestNotFoundError(`no manifest ${digest} in this node's store`)
    if (blob.size > MAX_MANIFEST_BYTES) {
      throw new ManifestNotFoundError(
        `${digest} is ${blob.size} bytes: not a manifest (they are at most 4 MiB)`,
      )
    }
    const bytes = await readAll(this.c.store.read(digest, 0, MAX_MANIFEST_BYTES))
    let declared: string | undefined
    try {
      const parsed = parseManifest(bytes, null)
      declared = parsed.kind === 'manifest' ? parsed.manifest.mediaType : parsed.index.mediaType
      declared ??= parsed.kind === 'manifest' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.ociIndex
    } catch (err) {
      // A blob that is not a manifest (a layer, an image config) is not one as far as the mirror is concerned.
      if (!(err instanceof ManifestInvalidError)) throw err
      throw new ManifestNotFoundError(`${digest} is not a manifest`, { cause: err })
    }
    const known = knownType ?? this.c.images.list().find((image) => image.digest === digest)?.mediaType
    return { bytes, digest, mediaType: known ?? declared }
  }
}

/**
 * A test for references with this repository path and tag (`busybox` matches `docker.io/library/busybox:x`).
 * A reference that does not parse (a damaged index entry, a peer's odd inventory) matches nothing, and
 * costs only itself: the lookup goes on to the others.
 */
function sameRepositoryAndTag(name: string, tag: string): (ref: string) => boolean {
  return (ref) => {
    let parsed: ReturnType<typeof parseReference>
    try {
      parsed = parseReference(ref)
    } catch (err) {
      if (err instanceof InvalidReferenceError) return false
      throw err
    }
    const path = parsed.repository.replace(/^library\//, '')
    return parsed.tag === tag && (parsed.repository === name || path === name)
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
