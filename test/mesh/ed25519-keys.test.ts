// Ed25519 with reused key objects: the same signatures as before, and checks that agree with @noble/curves.
import { randomBytes } from 'node:crypto'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { ed25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { reuseEd25519KeyObjects } from '../../src/mesh/ed25519-keys.js'

describe('Ed25519 keys with their key objects reused', () => {
  it('signs exactly as before and verifies as @noble/curves does, for every kind of message', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const messages = [new Uint8Array(0), randomBytes(1), randomBytes(1500), randomBytes(300_000)]
    const before = await Promise.all(messages.map((message) => key.sign(message)))

    reuseEd25519KeyObjects(key)
    for (const [i, message] of messages.entries()) {
      const signature = await key.sign(message)
      // Ed25519 is deterministic: the same key and message give the same signature.
      expect(Buffer.from(signature).equals(Buffer.from(before[i]!))).toBe(true)
      expect(ed25519.verify(signature, message, key.publicKey.raw)).toBe(true)
      // A key rebuilt from its bytes (as a peer's is) uses the same class, and so the same path.
      const peerKey = publicKeyFromRaw(key.publicKey.raw)
      expect(await peerKey.verify(message, signature)).toBe(true)
      // Messages that arrive as lists of chunks are read whole.
      expect(await peerKey.verify({ subarray: () => message } as unknown as Uint8Array, signature)).toBe(true)
      expect(await other.publicKey.verify(message, signature)).toBe(false)
      const tampered = Buffer.from(signature)
      tampered[5]! ^= 1
      expect(await peerKey.verify(message, tampered)).toBe(false)
      expect(ed25519.verify(tampered, message, key.publicKey.raw)).toBe(false)
    }
    const altered = Buffer.from(messages[2]!)
    altered[0]! ^= 1
    expect(await key.publicKey.verify(altered, await key.sign(messages[2]!))).toBe(false)
  })

  it('leaves malformed signatures to the original checks, which refuse them', async () => {
    const key = await generateKeyPair('Ed25519')
    reuseEd25519KeyObjects(key)
    expect(() => key.publicKey.verify(new Uint8Array(4), new Uint8Array(63))).toThrow(/64 bytes/)
  })
})
