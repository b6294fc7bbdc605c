import { describe, expect, it } from 'vitest'
import { type Liveness, LivenessView } from '../../src/membership/liveness.js'

function view() {
  const clock = { now: 0 }
  const liveness = new LivenessView({ suspectAfterMs: 2_500, deadAfterMs: 4_000 }, () => clock.now)
  const transitions: Array<[string, Liveness]> = []
  liveness.on('peer:state', (peer, state) => transitions.push([peer, state]))
  const advance = (ms: number): void => {
    for (let t = 0; t < ms; t += 250) {
      clock.now += 250
      liveness.tick()
    }
  }
  return { liveness, clock, transitions, advance }
}

describe('LivenessView', () => {
  it('turns a silent peer suspect after 2.5 s and dead after 4 s', () => {
    const { liveness, advance, transitions } = view()
    liveness.heard('p', false)
    advance(2_250)
    expect(liveness.state('p')).toBe('alive')
    advance(250)
    expect(liveness.state('p')).toBe('suspect')
    advance(1_500)
    expect(liveness.state('p')).toBe('dead')
    expect(transitions.map(([, state]) => state)).toEqual(['alive', 'suspect', 'dead'])
  })

  it('keeps a peer alive as long as heartbeats keep coming', () => {
    const { liveness, advance } = view()
    for (let i = 0; i < 20; i++) {
      liveness.heard('p', false)
      advance(1_000)
    }
    expect(liveness.state('p')).toBe('alive')
  })

  it('brings a dead peer back when it is heard from again', () => {
    const { liveness, advance } = view()
    liveness.heard('p', false)
    advance(5_000)
    expect(liveness.state('p')).toBe('dead')
    liveness.heard('p', false)
    expect(liveness.state('p')).toBe('alive')
  })

  it('marks a clean stop as left, and never times a left peer out to dead', () => {
    const { liveness, advance } = view()
    liveness.heard('p', true)
    advance(60_000)
    expect(liveness.state('p')).toBe('left')
  })

  it('holds off death while direct probes succeed, without calling the peer alive', () => {
    const { liveness, advance } = view()
    liveness.heard('p', false)
    for (let i = 0; i < 10; i++) {
      advance(1_000)
      liveness.probeSucceeded('p')
    }
    expect(liveness.state('p')).toBe('suspect')
    advance(4_000)
    expect(liveness.state('p')).toBe('dead')
  })

  it('suspects a peer at once on evidence (lost connection and failed probe)', () => {
    const { liveness } = view()
    liveness.heard('p', false)
    liveness.suspect('p')
    expect(liveness.state('p')).toBe('suspect')
  })

  it('treats peers known only from disk as suspect, and dead if nothing is heard for 4 s', () => {
    const { liveness, advance } = view()
    liveness.remember('old', 123, false)
    liveness.remember('gone', 123, true)
    expect(liveness.state('old')).toBe('suspect')
    expect(liveness.state('gone')).toBe('left')
    advance(4_000)
    expect(liveness.state('old')).toBe('dead')
  })

  it('does not blame peers for its own stall (SIGSTOP, a VM pause): their silence is forgiven', () => {
    const { liveness, clock, advance } = view()
    liveness.heard('p', false)
    clock.now += 60_000
    liveness.tick()
    expect(liveness.state('p')).toBe('alive')
    // After the stall, silence counts again from where it stood.
    advance(2_500)
    expect(liveness.state('p')).toBe('suspect')
    advance(1_500)
    expect(liveness.state('p')).toBe('dead')
  })
})

describe('LivenessView with peers that heartbeat more slowly (large clusters)', () => {
  it('stretches a peer’s timeouts by the interval it declares', () => {
    const clock = { now: 0 }
    const liveness = new LivenessView({ suspectAfterMs: 2_500, deadAfterMs: 4_000 }, () => clock.now)
    const advanceTo = (ms: number): void => {
      while (clock.now < ms) {
        clock.now += 250
        liveness.tick()
      }
    }
    liveness.heard('slow', false, 3)
    advanceTo(7_250)
    expect(liveness.state('slow')).toBe('alive')
    advanceTo(7_500)
    expect(liveness.state('slow')).toBe('suspect')
    advanceTo(12_000)
    expect(liveness.state('slow')).toBe('dead')
  })

  it('never shortens timeouts below the local ones', () => {
    const clock = { now: 0 }
    const liveness = new LivenessView({ suspectAfterMs: 2_500, deadAfterMs: 4_000 }, () => clock.now)
    liveness.heard('fast', false, 0.1)
    for (clock.now = 250; clock.now <= 2_000; clock.now += 250) liveness.tick()
    expect(liveness.state('fast')).toBe('alive')
  })
})
