// Content digests: parsed strictly, so a digest can name a file in the store and never a path outside it.
import { createHash, type Hash } from 'node:crypto'
import { InvalidDigestError } from '../errors.js'

const DIGEST = /^sha256:([a-f0-9]{64})$/

export type Digest = `sha256:${string}`

/** The digest, or a SHOAL_INVALID_DIGEST error: only `sha256:` and 64 lowercase hex digits pass. */
export function parseDigest(input: string): Digest {
  if (!DIGEST.test(input)) throw new InvalidDigestError(`"${input.slice(0, 100)}" is not a sha256 digest`)
  return input as Digest
}

export function isDigest(input: string): input is Digest {
  return DIGEST.test(input)
}

/** The 64 hex digits of a parsed digest. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length)
}

export function digestOf(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

export function newDigester(): { hash: Hash; digest(): Digest } {
  const hash = createHash('sha256')
  return { hash, digest: () => `sha256:${hash.digest('hex')}` }
}
