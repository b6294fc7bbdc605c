// Reuses Node key objects for Ed25519 in @libp2p/crypto, which rebuilds one from a JWK for every signature and check.
//
// Every gossip message is signed once and verified by every receiver; @libp2p/crypto's Node implementation
// turns the raw key into a JWK and then a KeyObject each time. Measured here (1 KB messages): a verification
// 176 → 146 µs and a signature 118 → 47 µs with the key objects kept. Keys are few (one per peer), so they
// are. Only the key handling changes: the same node:crypto sign and verify run, with the same arguments;
// anything unusual (other sizes) goes to the original. Tested in test/mesh/ed25519-keys.test.ts against
// @noble/curves.
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'

type Message = Uint8Array | { subarray(): Uint8Array }

interface Ed25519Public {
  raw: Uint8Array
  verify(data: Message, sig: Uint8Array, options?: { signal?: AbortSignal }): boolean | Promise<boolean>
}

interface Ed25519Private {
  raw: Uint8Array
  publicKey: Ed25519Public
  sign(message: Message, options?: { signal?: AbortSignal }): Uint8Array | Promise<Uint8Array>
}

/** Peers whose public key objects are kept; past this the cache starts over (a mesh has far fewer). */
const PUBLIC_KEY_CACHE_LIMIT = 4_096

const publicKeys = new Map<string, KeyObject>()
const privateKeys = new WeakMap<object, KeyObject>()
let mended = false

const base64url = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
const bytesOf = (message: Message): Uint8Array =>
  message instanceof Uint8Array ? message : message.subarray()

function publicKeyObject(raw: Uint8Array): KeyObject {
  const x = base64url(raw)
  let key = publicKeys.get(x)
  if (key === undefined) {
    if (publicKeys.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeys.clear()
    key = createPublicKey({ format: 'jwk', key: { kty: 'OKP', crv: 'Ed25519', x } })
    publicKeys.set(x, key)
  }
  return key
}

/** Patches the Ed25519 key classes of @libp2p/crypto, found through this node's own (Ed25519) key. */
export function reuseEd25519KeyObjects(sample: PrivateKey): void {
  if (mended || sample.type !== 'Ed25519') return
  mended = true
  const privateProto = Object.getPrototypeOf(sample) as Ed25519Private
  const publicProto = Object.getPrototypeOf(sample.publicKey) as Ed25519Public
  const originalVerify = publicProto.verify
  const originalSign = privateProto.sign

  publicProto.verify = function (this: Ed25519Public, data, sig, options) {
    if (this.raw.byteLength !== 32 || !(sig instanceof Uint8Array) || sig.byteLength !== 64) {
      return originalVerify.call(this, data, sig, options)
    }
    options?.signal?.throwIfAborted()
    return verify(null, bytesOf(data), publicKeyObject(this.raw), sig)
  }

  privateProto.sign = function (this: Ed25519Private, message, options) {
    if (this.raw.byteLength !== 64) return originalSign.call(this, message, options)
    options?.signal?.throwIfAborted()
    let key = privateKeys.get(this)
    if (key === undefined) {
      key = createPrivateKey({
        format: 'jwk',
        key: {
          kty: 'OKP',
          crv: 'Ed25519',
          d: base64url(this.raw.subarray(0, 32)),
          x: base64url(this.raw.subarray(32)),
        },
      })
      privateKeys.set(this, key)
    }
    return sign(null, bytesOf(message), key)
  }
}
