// The SWIM liveness view on a fake monotonic clock: suspicion, confirmation, declaration, refutation, stalls.
import { describe, expect, it } from 'vitest'
import { type Liveness, SwimView } from '../../src/membership/swim-view.js'

const SELF = 'self'

function setup(timings = { suspicionMinMs: 2_000, suspicionMaxMs: 6_000 }) {
  const clock = { now: 0 }
  const view = new SwimView(SELF, timings, () => clock.now)
  const changes: Array<[string, Liveness]> = []
  view.on('peer:state', (peer, state) => changes.push([peer, state]))
  /** Advances the clock tick by tick (250 ms), as the membership timer does; returns the peers declared dead. */
  const advance = (ms: number): string[] => {
    const declared: string[] = []
    for (let t = 0; t < ms; t += 250) {
      clock.now += 250
      declared.push(...view.tick())
    }
    return declared
  }
  return { view, clock, changes, advance }
}

describe('the SWIM view', () => {
  it('holds a member learned from fresh gossip alive, and one known only from the store suspect until it answers', () => {
    const { view } = setup()
    view.learn('a', { incarnation: 1, left: false }, true)
    view.learn('b', { incarnation: 1, left: false }, false)
    expect(view.state('a')).toBe('alive')
    expect(view.state('b')).toBe('suspect')
    expect(view.unconfirmed()).toEqual(['b'])
    view.probeSucceeded('b', 1)
    expect(view.state('b')).toBe('alive')
  })

  it('declares a member dead when its own suspicion runs out unrefuted (the longest timeout with no confirmation)', () => {
    const { view, advance } = setup()
    for (const peer of ['a', 'b', 'c', 'd']) view.learn(peer, { incarnation: 1, left: false }, true)
    view.probeFailed('a')
    expect(view.state('a')).toBe('suspect')
    expect(advance(5_750)).toEqual([])
    expect(advance(250)).toEqual(['a'])
    expect(view.state('a')).toBe('dead')
    expect(view.ownOpinion().dead.a).toMatchObject({ i: 1 })
  })

  it('declares sooner the more other members confirm the suspicion (Lifeguard)', () => {
    const { view, advance } = setup()
    for (const peer of ['a', 'b', 'c', 'd']) view.learn(peer, { incarnation: 1, left: false }, true)
    view.probeFailed('a')
    for (const observer of ['b', 'c', 'd']) view.observe(observer, { suspects: { a: { i: 1 } }, dead: {} })
    expect(view.suspicionTimeoutMs('a')).toBeCloseTo(2_000)
    expect(advance(2_000)).toEqual(['a'])
  })

  it('takes another member’s declaration at once, and forgets it when the member refutes with a higher incarnation', () => {
    const { view } = setup()
    view.learn('a', { incarnation: 3, left: false }, true)
    view.learn('b', { incarnation: 1, left: false }, true)
    view.observe('b', { suspects: {}, dead: { a: { i: 3, at: 1 } } })
    expect(view.state('a')).toBe('dead')
    view.learn('a', { incarnation: 4, left: false }, true)
    expect(view.state('a')).toBe('alive')
  })

  it('ignores suspicions at an incarnation the member already refuted, and a dead observer’s suspicions', () => {
    const { view } = setup()
    view.learn('a', { incarnation: 5, left: false }, true)
    view.learn('b', { incarnation: 1, left: false }, true)
    view.observe('b', { suspects: { a: { i: 4 } }, dead: {} })
    expect(view.state('a')).toBe('alive')
    view.observe('b', { suspects: { a: { i: 5 } }, dead: {} })
    expect(view.state('a')).toBe('suspect')
    view.observe('c', { suspects: {}, dead: { b: { i: 1, at: 1 } } })
    view.learn('c', { incarnation: 1, left: false }, true)
    expect(view.state('b')).toBe('dead')
    expect(view.state('a')).toBe('alive')
  })

  it('counts an observer’s suspicions again once it refutes its death, and no more once it leaves', () => {
    const { view } = setup()
    view.learn('a', { incarnation: 1, left: false }, true)
    view.learn('b', { incarnation: 1, left: false }, true)
    view.learn('c', { incarnation: 1, left: false }, true)
    view.observe('b', { suspects: { a: { i: 1 } }, dead: {} })
    view.observe('c', { suspects: {}, dead: { b: { i: 1, at: 1 } } })
    expect([view.state('a'), view.state('b')]).toEqual(['alive', 'dead'])
    view.learn('b', { incarnation: 2, left: false }, true)
    expect([view.state('a'), view.state('b')]).toEqual(['suspect', 'alive'])
    view.learn('b', { incarnation: 2, left: true }, true)
    expect([view.state('a'), view.state('b')]).toEqual(['alive', 'left'])
  })

  it('says how far this node must raise its own incarnation to refute', () => {
    const { view } = setup()
    expect(view.doubtAboutSelf()).toBeUndefined()
    view.observe('b', { suspects: { [SELF]: { i: 2 } }, dead: {} })
    view.observe('c', { suspects: {}, dead: { [SELF]: { i: 3, at: 1 } } })
    expect(view.doubtAboutSelf()).toBe(3)
  })

  it('clears its own suspicion when the member answers, and never declares it then', () => {
    const { view, advance } = setup()
    view.learn('a', { incarnation: 1, left: false }, true)
    view.probeFailed('a')
    advance(1_000)
    view.probeSucceeded('a', 1)
    expect(view.state('a')).toBe('alive')
    expect(advance(10_000)).toEqual([])
  })

  it('marks a clean stop as left, and never declares a left member dead', () => {
    const { view, advance } = setup()
    view.learn('a', { incarnation: 1, left: false }, true)
    view.learn('a', { incarnation: 1, left: true }, true)
    view.probeFailed('a')
    expect(view.state('a')).toBe('left')
    expect(advance(10_000)).toEqual([])
  })

  it('does not hold its own stall against a suspect (SIGSTOP, a VM pause)', () => {
    const { view, clock } = setup()
    view.learn('a', { incarnation: 1, left: false }, true)
    view.probeFailed('a')
    clock.now += 10_000 // stopped for 10 s: one late tick
    expect(view.tick()).toEqual([])
    expect(view.state('a')).toBe('suspect')
  })

  it('forgets a member whose record was collected, and its opinions with it', () => {
    const { view } = setup()
    view.learn('a', { incarnation: 1, left: false }, true)
    view.learn('b', { incarnation: 1, left: false }, true)
    view.observe('b', { suspects: { a: { i: 1 } }, dead: {} })
    view.forget('b')
    expect(view.state('b')).toBeUndefined()
    expect(view.state('a')).toBe('alive')
  })
})
