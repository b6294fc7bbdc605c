// Incrementally maintained sync digest: per key bucket, the XOR of a hash of every (key, version) held.
import { createHash } from 'node:crypto'
import { DIGEST_BUCKETS } from './constants.js'
import type { Version } from './record.js'

const HASH_BYTES = 16

/** Bucket of a key: FNV-1a of the key, so a key always lands in the same bucket on every node. */
export function bucketOf(key: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % DIGEST_BUCKETS
}

function entryHash(key: string, version: Version): Buffer {
  return createHash('sha256')
    .update(`${key}\0${version.join('\0')}`)
    .digest()
    .subarray(0, HASH_BYTES)
}

/**
 * XOR makes add and remove the same O(1) operation and the result independent of order, so two nodes
 * holding the same (key, version) set have equal buckets whatever order they learned it in.
 */
export class SyncDigest {
  private readonly buckets: Buffer[] = Array.from({ length: DIGEST_BUCKETS }, () => Buffer.alloc(HASH_BYTES))

  toggle(key: string, version: Version): void {
    const bucket = this.buckets[bucketOf(key)]!
    const hash = entryHash(key, version)
    for (let i = 0; i < HASH_BYTES; i++) bucket[i]! ^= hash[i]!
  }

  /** All buckets, concatenated, base64: 4 KiB before encoding. */
  encode(): string {
    return Buffer.concat(this.buckets).toString('base64')
  }

  /** Indices of buckets that differ from an encoded digest; all of them if it is malformed. */
  differingBuckets(encoded: string): number[] {
    const other = Buffer.from(encoded, 'base64')
    const differing: number[] = []
    for (let b = 0; b < DIGEST_BUCKETS; b++) {
      const theirs = other.subarray(b * HASH_BYTES, (b + 1) * HASH_BYTES)
      if (theirs.length !== HASH_BYTES || !theirs.equals(this.buckets[b]!)) differing.push(b)
    }
    return differing
  }
}
