import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { IMAGE_LOOKUP_RETRY_MS, IMAGE_LOOKUP_WAIT_MS } from '../../src/layers/constants.js'
import type { Digest } from '../../src/layers/digest.js'
import { type ImageLayer, ImageLookups } from '../../src/layers/image-lookups.js'

const LAYERS: ImageLayer[] = [{ digest: `sha256:${'a'.repeat(64)}` as Digest, size: 10 }]

/** A lookup the test settles by hand, counting how often it was asked. */
function controlled() {
  const calls: Array<{ resolve(layers: ImageLayer[]): void; reject(err: Error): void }> = []
  const resolve = (): Promise<ImageLayer[]> => {
    const { promise, resolve, reject } = Promise.withResolvers<ImageLayer[]>()
    calls.push({ resolve, reject })
    return promise
  }
  return { calls, resolve }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('looking up the layers of an image no node holds', () => {
  it('is worth waiting for only while the first lookup runs, within the wait bound; then its answer is kept', async () => {
    let now = 0
    const registry = controlled()
    const lookups = new ImageLookups(registry.resolve, pino({ level: 'silent' }), () => now)
    expect(lookups.get('r/app:1')).toBe('pending')
    expect(lookups.get('r/app:1')).toBe('pending')
    expect(registry.calls).toHaveLength(1)
    now = IMAGE_LOOKUP_WAIT_MS
    expect(lookups.get('r/app:1')).toBe('unknown')
    registry.calls[0]!.resolve(LAYERS)
    await settle()
    expect(lookups.get('r/app:1')).toEqual({ layers: LAYERS })
    expect(registry.calls).toHaveLength(1)
  })

  it('after a failure places without it, and asks the registry again only after the retry interval', async () => {
    let now = 0
    const registry = controlled()
    const lookups = new ImageLookups(registry.resolve, pino({ level: 'silent' }), () => now)
    expect(lookups.get('r/gone:1')).toBe('pending')
    registry.calls[0]!.reject(new Error('no such manifest'))
    await settle()
    expect(lookups.get('r/gone:1')).toBe('unknown')
    expect(registry.calls).toHaveLength(1)
    now += IMAGE_LOOKUP_RETRY_MS
    // Retried, but nothing waits on a retry.
    expect(lookups.get('r/gone:1')).toBe('unknown')
    expect(registry.calls).toHaveLength(2)
    registry.calls[1]!.resolve(LAYERS)
    await settle()
    expect(lookups.get('r/gone:1')).toEqual({ layers: LAYERS })
  })
})
