// Ed25519 signing of record bodies with Node's native crypto, and verification keyed by the origin's peer id.
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { SIGNATURE_DOMAIN } from './constants.js'

// DER prefixes that wrap a raw 32-byte Ed25519 seed (PKCS#8) or public key (SPKI), RFC 8410.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Verification keys are cached per origin; past this many origins the cache starts over. */
const MAX_CACHED_KEYS = 10_000

export interface RecordSigner {
  readonly peerId: string
  sign(body: string): string
}

function signedBytes(body: string): Buffer {
  return Buffer.from(SIGNATURE_DOMAIN + body, 'utf8')
}

export function createRecordSigner(peerId: string, privateKey: PrivateKey): RecordSigner {
  if (privateKey.type !== 'Ed25519') throw new TypeError('record signing needs an Ed25519 peer key')
  const seed = privateKey.raw.subarray(0, 32)
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  })
  return {
    peerId,
    sign: (body) => sign(null, signedBytes(body), key).toString('base64'),
  }
}

export class RecordVerifier {
  private readonly keys = new Map<string, KeyObject | null>()

  /** True when `sig` is the origin's signature of `body`; false for a bad signature or an unusable peer id. */
  verify(origin: string, body: string, sig: string): boolean {
    const key = this.keyFor(origin)
    if (key === null) return false
    return verify(null, signedBytes(body), key, Buffer.from(sig, 'base64'))
  }

  private keyFor(origin: string): KeyObject | null {
    const cached = this.keys.get(origin)
    if (cached !== undefined) return cached
    if (this.keys.size >= MAX_CACHED_KEYS) this.keys.clear()
    let key: KeyObject | null = null
    try {
      const publicKey = peerIdFromString(origin).publicKey
      if (publicKey?.type === 'Ed25519') {
        key = createPublicKey({
          key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey.raw]),
          format: 'der',
          type: 'spki',
        })
      }
    } catch {
      // A peer id that does not parse cannot have signed anything: treated as a failed verification.
      key = null
    }
    this.keys.set(origin, key)
    return key
  }
}
