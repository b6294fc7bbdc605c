// Recovering the image index after its file was damaged: manifests found in the store, named by this node's inventory record.
import { open, readFile } from 'node:fs/promises'
import { ManifestInvalidError } from '../errors.js'
import { MAX_MANIFEST_BYTES } from './constants.js'
import type { Digest } from './digest.js'
import type { LocalImage } from './images.js'
import { type ImageManifest, MEDIA_TYPES, parseManifest } from './manifest.js'
import type { BlobStore } from './store.js'

/** An image this node said it held, as its last published inventory record lists it. */
export interface NamedImage {
  ref: string
  digest: Digest
}

export interface Rebuilt {
  /** Images whose name the record gives and whose manifest, config and layers are all in the store. */
  images: LocalImage[]
  /** Named images the store no longer holds whole (their manifest, config or a layer is missing). */
  incomplete: string[]
  /** Image manifests in the store that no record names: their blobs stay until evicted, under no name. */
  unnamed: Digest[]
}

/**
 * The store keeps blobs by digest only; the names (`registry/repo:tag`) were in the damaged file. This node's
 * own inventory record, replicated and kept in LevelDB, lists the images it held by name and manifest digest:
 * each of those whose blobs are all in the store is indexed again. Manifests are recognised by content (small
 * JSON blobs that parse as an image manifest), so those no record names can at least be counted.
 */
export async function rebuildImages(
  store: BlobStore,
  named: readonly NamedImage[],
  skip: ReadonlySet<string>,
): Promise<Rebuilt> {
  const manifests = await manifestsIn(store)
  const result: Rebuilt = { images: [], incomplete: [], unnamed: [] }
  const namedDigests = new Set(named.map((image) => image.digest))
  for (const image of named) {
    if (skip.has(image.ref)) continue
    const manifest = manifests.get(image.digest)
    const blobs = manifest === undefined ? [] : [manifest.config, ...manifest.layers]
    if (manifest === undefined || !blobs.every((blob) => store.has(blob.digest))) {
      result.incomplete.push(image.ref)
      continue
    }
    result.images.push({
      ref: image.ref,
      digest: image.digest,
      mediaType: manifest.mediaType ?? mediaTypeFor(manifest),
      config: { digest: manifest.config.digest, size: manifest.config.size },
      layers: manifest.layers.map((layer) => ({
        digest: layer.digest,
        size: layer.size,
        mediaType: layer.mediaType,
      })),
      size: blobs.reduce((sum, blob) => sum + blob.size, 0),
      pulledAt: new Date(store.get(image.digest)?.usedAt ?? Date.now()).toISOString(),
    })
  }
  for (const digest of manifests.keys()) if (!namedDigests.has(digest)) result.unnamed.push(digest)
  return result
}

/** Every blob in the store that is an image manifest, by digest. */
async function manifestsIn(store: BlobStore): Promise<Map<Digest, ImageManifest>> {
  const found = new Map<Digest, ImageManifest>()
  for (const blob of store.list()) {
    if (blob.size > MAX_MANIFEST_BYTES || !(await startsLikeJson(store.pathOf(blob.digest)))) continue
    const bytes = await readFile(store.pathOf(blob.digest))
    try {
      const parsed = parseManifest(bytes, null)
      if (parsed.kind === 'manifest') found.set(blob.digest, parsed.manifest)
    } catch (err) {
      // JSON that is not a manifest (an image config, most often): not what we look for.
      if (!(err instanceof ManifestInvalidError)) throw err
    }
  }
  return found
}

/** Layers are compressed tar (they start with gzip's or zstd's magic): one byte tells them from JSON. */
async function startsLikeJson(path: string): Promise<boolean> {
  const handle = await open(path, 'r')
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(1), 0, 1, 0)
    return bytesRead === 1 && buffer[0] === 0x7b
  } finally {
    await handle.close()
  }
}

/** A manifest that does not name its own type: Docker's if its config is Docker's, else OCI's. */
function mediaTypeFor(manifest: ImageManifest): string {
  return manifest.config.mediaType?.startsWith('application/vnd.docker.') === true
    ? MEDIA_TYPES.dockerManifest
    : MEDIA_TYPES.ociManifest
}
