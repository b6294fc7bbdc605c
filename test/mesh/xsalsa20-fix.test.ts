import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import xsalsa20 from 'xsalsa20'
import { mendXsalsa20 } from '../../src/mesh/xsalsa20-fix.js'

/** The shared WebAssembly memory's size, read through a fresh instance's view of it. */
const wasmBytes = (): number =>
  (xsalsa20(new Uint8Array(24), new Uint8Array(32)) as unknown as { _xor: { _memory: Uint8Array } })._xor
    ._memory.length

describe('the pnet cipher (xsalsa20) with its memory leak mended', () => {
  it('keeps its memory bounded when several streams take turns with large chunks, and still deciphers', () => {
    mendXsalsa20()
    const nonce = randomBytes(24)
    const key = randomBytes(32)
    const senders = [xsalsa20(nonce, key), xsalsa20(randomBytes(24), key), xsalsa20(randomBytes(24), key)]
    const receiver = xsalsa20(nonce, key)
    const chunk = randomBytes(1 << 20)
    for (let round = 0; round < 3; round++) {
      for (const sender of senders) sender.update(chunk)
      receiver.update(chunk) // the receiver keeps pace with senders[0]'s key stream
    }
    const settled = wasmBytes()
    for (let round = 0; round < 20; round++) {
      for (const sender of senders.slice(1)) sender.update(chunk)
      const plain = randomBytes(1 << 20)
      expect(Buffer.from(receiver.update(senders[0]!.update(plain))).equals(plain)).toBe(true)
    }
    // Unmended, each turn grew it by another MiB: 20 rounds × 3 streams ≈ 60 MiB more.
    expect(wasmBytes()).toBeLessThanOrEqual(settled + (1 << 20))
  })

  it('takes a fresh view of the memory without growing it, so other streams keep theirs', () => {
    mendXsalsa20()
    const view = (cipher: unknown) => (cipher as { _xor: { _memory: Uint8Array } })._xor._memory
    const key = randomBytes(32)
    const [a, b] = [xsalsa20(randomBytes(24), key), xsalsa20(randomBytes(24), key)]
    a.update(randomBytes(view(a).length + (1 << 20))) // grows the shared memory: b's view is now detached
    expect(view(b).length).toBe(0)
    b.update(randomBytes(64))
    // Growing by nothing (the first mend) detached a's view in turn, and so on at every alternation.
    expect(view(a).length).toBeGreaterThan(0)
    expect(view(b).length).toBe(view(a).length)
  })
})
