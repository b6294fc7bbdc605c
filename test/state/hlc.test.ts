import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_HLC_COUNTER } from '../../src/state/constants.js'
import { compareStamps, HybridLogicalClock, type Stamp } from '../../src/state/hlc.js'

function clockAt(start: number) {
  const clock = { time: start, now: () => clock.time }
  return clock
}

describe('HybridLogicalClock', () => {
  it('follows the wall clock when it moves forward', () => {
    const wall = clockAt(1_000)
    const hlc = new HybridLogicalClock('a', wall)
    expect(hlc.now()).toEqual({ wall: 1_000, counter: 0, node: 'a' })
    wall.time = 1_005
    expect(hlc.now()).toEqual({ wall: 1_005, counter: 0, node: 'a' })
  })

  it('counts within one millisecond and when the wall clock goes backwards', () => {
    const wall = clockAt(1_000)
    const hlc = new HybridLogicalClock('a', wall)
    hlc.now()
    expect(hlc.now()).toEqual({ wall: 1_000, counter: 1, node: 'a' })
    wall.time = 900
    expect(hlc.now()).toEqual({ wall: 1_000, counter: 2, node: 'a' })
  })

  it('orders local stamps after a remote stamp it observed, even one ahead of the local clock', () => {
    const hlc = new HybridLogicalClock('a', clockAt(1_000))
    const remote: Stamp = { wall: 5_000, counter: 7, node: 'b' }
    hlc.observe(remote)
    const next = hlc.now()
    expect(compareStamps(next, remote)).toBeGreaterThan(0)
    expect(next.wall).toBe(5_000)
  })

  it('moves its wall on by a millisecond instead of counting past the counter bound', () => {
    const hlc = new HybridLogicalClock('a', clockAt(1_000))
    const remote: Stamp = { wall: 5_000, counter: MAX_HLC_COUNTER, node: 'b' }
    hlc.observe(remote)
    const next = hlc.now()
    expect(next).toEqual({ wall: 5_001, counter: 1, node: 'a' })
    expect(compareStamps(next, remote)).toBeGreaterThan(0)
  })

  it('stays within the counter bound while the wall clock stands still', () => {
    const hlc = new HybridLogicalClock('a', clockAt(1_000))
    hlc.observe({ wall: 1_000, counter: MAX_HLC_COUNTER - 2, node: 'b' })
    const stamps = Array.from({ length: 4 }, () => hlc.now())
    expect(stamps.map((stamp) => [stamp.wall, stamp.counter])).toEqual([
      [1_000, MAX_HLC_COUNTER],
      [1_001, 0],
      [1_001, 1],
      [1_001, 2],
    ])
  })

  it('breaks ties between writers by node id, so no two writers share a stamp', () => {
    expect(
      compareStamps({ wall: 1, counter: 0, node: 'a' }, { wall: 1, counter: 0, node: 'b' }),
    ).toBeLessThan(0)
  })

  it('issues strictly increasing stamps whatever the wall clock and remote stamps do (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('now' as const), wallStep: fc.integer({ min: -50, max: 50 }) }),
      fc.record({
        kind: fc.constant('observe' as const),
        wallStep: fc.integer({ min: -50, max: 50 }),
        remoteWall: fc.integer({ min: 0, max: 2_000 }),
        // Counters near the bound as well as small ones, so that overflow is exercised.
        remoteCounter: fc.oneof(
          fc.integer({ min: 0, max: 20 }),
          fc.integer({ min: MAX_HLC_COUNTER - 5, max: MAX_HLC_COUNTER }),
        ),
      }),
    )
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 200 }), (ops) => {
        const wall = clockAt(1_000)
        const hlc = new HybridLogicalClock('me', wall)
        let last: Stamp | undefined
        let mustExceed: Stamp | undefined
        for (const step of ops) {
          wall.time = Math.max(0, wall.time + step.wallStep)
          if (step.kind === 'observe') {
            const remote = { wall: step.remoteWall, counter: step.remoteCounter, node: 'other' }
            hlc.observe(remote)
            if (mustExceed === undefined || compareStamps(remote, mustExceed) > 0) mustExceed = remote
            continue
          }
          const stamp = hlc.now()
          if (last !== undefined) expect(compareStamps(stamp, last)).toBeGreaterThan(0)
          if (mustExceed !== undefined) expect(compareStamps(stamp, mustExceed)).toBeGreaterThan(0)
          expect(stamp.wall).toBeGreaterThanOrEqual(wall.time)
          expect(stamp.counter).toBeLessThanOrEqual(MAX_HLC_COUNTER)
          last = stamp
        }
      }),
    )
  })
})
