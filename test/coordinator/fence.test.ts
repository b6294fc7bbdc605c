import { describe, expect, it } from 'vitest'
import { awaitsLease, judgeFenced, type LeaseValue, leaseKind } from '../../src/coordinator/index.js'
import type { StateRecord } from '../../src/state/index.js'
import { writerViolation } from '../../src/state/kinds.js'

const OLD = '12D3KooWOLDoLDoLDoLDoLDoLDoLDoLDoLDoLDoLDoLDoLDoLDoL'
const NEW = '12D3KooWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNE'

function record(origin: string, term: number, wall: number): StateRecord {
  return {
    key: 'work/x',
    value: 1,
    stamp: { wall, counter: 0, node: origin },
    origin,
    deleted: false,
    term,
    body: '',
    sig: '',
  }
}

/** Term 5 held by NEW, which claimed it at wall time 1000. */
const lease = {
  ...record(NEW, 5, 1000),
  key: 'lease/coordinator',
  value: {
    holder: NEW,
    holderName: 'new',
    term: 5,
    claim: { wall: 1000, counter: 0, node: NEW },
    since: 1000,
    expiresAt: 4000,
    durationMs: 3000,
  },
} as StateRecord<LeaseValue>

describe('the fence between coordinator terms', () => {
  it('accepts the current holder’s work under the current term', () => {
    expect(judgeFenced(record(NEW, 5, 2000), lease)).toBeUndefined()
  })

  it('accepts an older term’s work stamped before the current term began', () => {
    expect(judgeFenced(record(OLD, 4, 999), lease)).toBeUndefined()
    expect(judgeFenced(record(OLD, 1, 10), lease)).toBeUndefined()
  })

  it('refuses an older term’s work stamped after the current term began', () => {
    expect(judgeFenced(record(OLD, 4, 1001), lease)).toMatch(/after term 5 began/)
  })

  it('refuses work under the current term from anyone but its holder, once the term has begun', () => {
    expect(judgeFenced(record(OLD, 5, 2000), lease)).toMatch(/after term 5 began/)
    // A same-term claimant that lost the race: what it wrote before the winner's claim stands.
    expect(judgeFenced(record(OLD, 5, 999), lease)).toBeUndefined()
  })

  it('refuses work under a term newer than any lease it knows, and any work before it knows a lease', () => {
    expect(judgeFenced(record(NEW, 6, 2000), lease)).toMatch(/newer than the newest known lease/)
    expect(judgeFenced(record(NEW, 1, 2000), undefined)).toMatch(/no coordinator lease is known/)
  })

  it('says which refused work may yet be taken: a term ahead of every known lease, not one that is over', () => {
    expect(awaitsLease(record(NEW, 6, 2000), lease)).toBe(true)
    expect(awaitsLease(record(NEW, 1, 2000), undefined)).toBe(true)
    expect(awaitsLease(record(OLD, 4, 1001), lease)).toBe(false)
    expect(awaitsLease(record(OLD, 5, 2000), lease)).toBe(false)
  })
})

describe('the lease record’s writer rule', () => {
  const judge = (claimWall: number, recordWall: number) =>
    writerViolation(leaseKind, {
      ...lease,
      stamp: { wall: recordWall, counter: 1, node: NEW },
      value: { ...lease.value!, claim: { wall: claimWall, counter: 0, node: NEW } },
    })

  it('refuses a claim stamped after its own record (it would let an old term’s work through the fence)', () => {
    expect(judge(1000 + 3_600_000, 1000)).toMatch(/later/)
    expect(judge(1000, 1000)).toBeUndefined()
    expect(judge(900, 1000)).toBeUndefined()
  })
})
