import { describe, expect, it } from 'vitest'
import { PublisherRate } from '../../src/state/publisher-rate.js'

function clockAt(start: number) {
  const clock = { time: start, now: () => clock.time }
  return clock
}

describe('PublisherRate', () => {
  it('takes a burst at once, then only what the rate refills', () => {
    const clock = clockAt(0)
    const rate = new PublisherRate(200, 1_000, clock.now)
    expect(rate.take('a', 1_000)).toBe(true)
    expect(rate.take('a', 1)).toBe(false)
    clock.time = 500
    expect(rate.take('a', 100)).toBe(true)
    expect(rate.take('a', 1)).toBe(false)
  })

  it('refuses a batch it cannot take whole, and takes nothing for it', () => {
    const clock = clockAt(0)
    const rate = new PublisherRate(200, 1_000, clock.now)
    expect(rate.take('a', 1_001)).toBe(false)
    expect(rate.take('a', 1_000)).toBe(true)
  })

  it('counts each publisher on its own, and never refills past the burst', () => {
    const clock = clockAt(0)
    const rate = new PublisherRate(200, 1_000, clock.now)
    expect(rate.take('a', 1_000)).toBe(true)
    expect(rate.take('b', 1_000)).toBe(true)
    clock.time = 3_600_000
    expect(rate.take('a', 1_001)).toBe(false)
    expect(rate.take('a', 1_000)).toBe(true)
  })
})
