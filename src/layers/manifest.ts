// Image manifests and indexes (Docker v2 and OCI), validated at the edge, and the platform choice.
import { z } from 'zod'
import { ManifestInvalidError, PlatformNotFoundError } from '../errors.js'
import { type Digest, isDigest } from './digest.js'

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const

/** What we ask a registry for, best first. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ')

const digest = z.string().refine(isDigest, 'not a sha256 digest') as unknown as z.ZodType<Digest>
const descriptor = z.object({
  mediaType: z.string().max(256).optional(),
  digest,
  size: z.number().int().nonnegative(),
  platform: z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).optional(),
})
export type Descriptor = z.infer<typeof descriptor>

const imageManifest = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptor,
  layers: z.array(descriptor).max(512),
})
export type ImageManifest = z.infer<typeof imageManifest>

const imageIndex = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptor).max(1024),
})
export type ImageIndex = z.infer<typeof imageIndex>

export type ParsedManifest =
  | { kind: 'manifest'; manifest: ImageManifest }
  | { kind: 'index'; index: ImageIndex }

export function parseManifest(bytes: Uint8Array, contentType: string | null): ParsedManifest {
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch (err) {
    throw new ManifestInvalidError('the registry sent a manifest that is not JSON', { cause: err })
  }
  const declared = (json as { mediaType?: string }).mediaType ?? contentType?.split(';')[0]?.trim()
  const isIndex =
    declared === MEDIA_TYPES.ociIndex ||
    declared === MEDIA_TYPES.dockerList ||
    (declared === undefined && Array.isArray((json as { manifests?: unknown }).manifests))
  if (isIndex) {
    const parsed = imageIndex.safeParse(json)
    if (!parsed.success)
      throw new ManifestInvalidError(`invalid image index: ${parsed.error.issues[0]?.message}`)
    return { kind: 'index', index: parsed.data }
  }
  const parsed = imageManifest.safeParse(json)
  if (!parsed.success)
    throw new ManifestInvalidError(`invalid image manifest: ${parsed.error.issues[0]?.message}`)
  return { kind: 'manifest', manifest: parsed.data }
}

export interface Platform {
  os: string
  architecture: string
  variant?: string
}

const ARCHITECTURES: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  s390x: 's390x',
  ppc64: 'ppc64le',
}

/** This machine's platform, named as image indexes name it. */
export function hostPlatform(): Platform {
  return {
    os: process.platform === 'win32' ? 'windows' : 'linux',
    architecture: ARCHITECTURES[process.arch] ?? process.arch,
  }
}

/** The index entry for a platform; refuses with SHOAL_PLATFORM_NOT_FOUND, naming what the index has. */
export function pickPlatform(index: ImageIndex, platform: Platform): Descriptor {
  const matches = index.manifests.filter(
    (entry) =>
      entry.platform?.os === platform.os &&
      entry.platform.architecture === platform.architecture &&
      (platform.variant === undefined || entry.platform.variant === platform.variant),
  )
  const chosen = matches[0]
  if (chosen === undefined) {
    const offered = index.manifests
      .map((entry) => (entry.platform ? `${entry.platform.os}/${entry.platform.architecture}` : 'unknown'))
      .join(', ')
    throw new PlatformNotFoundError(
      `no manifest for ${platform.os}/${platform.architecture}; the image offers ${offered || 'none'}`,
    )
  }
  return chosen
}
