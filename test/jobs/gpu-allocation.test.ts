import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GpuAllocation } from '../../src/jobs/gpu-allocation.js'

describe('GPU allocation on a node', () => {
  it('gives each attempt its own devices, lowest first, and reuses freed ones', () => {
    const gpus = new GpuAllocation(() => 4)
    expect(gpus.take('a/1', 1)).toEqual([0])
    expect(gpus.take('b/1', 2)).toEqual([1, 2])
    expect(gpus.take('a/1', 1)).toEqual([0])
    gpus.release('a/1')
    expect(gpus.take('c/1', 2)).toEqual([0, 3])
    expect(gpus.take('d/1', 0)).toEqual([])
    // Nothing left: an attempt admitted anyway (nothing else ran when it started) gets what is free.
    expect(gpus.take('e/1', 1)).toEqual([])
  })

  it('never gives one device to two attempts, whatever the order of takes and releases', () => {
    const step = fc.oneof(
      fc.record({ take: fc.integer({ min: 0, max: 9 }), need: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ release: fc.integer({ min: 0, max: 9 }) }),
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.array(step, { maxLength: 60 }), (count, steps) => {
        const gpus = new GpuAllocation(() => count)
        const holding = new Map<string, number[]>()
        for (const s of steps) {
          if ('take' in s) holding.set(`j${s.take}`, gpus.take(`j${s.take}`, s.need))
          else {
            gpus.release(`j${s.release}`)
            holding.delete(`j${s.release}`)
          }
          const all = [...holding.values()].flat()
          expect(new Set(all).size).toBe(all.length)
          expect(all.every((index) => index >= 0 && index < count)).toBe(true)
        }
      }),
    )
  })
})
