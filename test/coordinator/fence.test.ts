import { describe, expect, it } from 'vitest'
import { LEASE_HISTORY_TERMS } from '../../src/coordinator/constants.js'
import {
  awaitsLease,
  historyAfter,
  judgeFenced,
  type LeaseValue,
  leaseKind,
} from '../../src/coordinator/index.js'
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

  // Term 7 held by NEW since 5000, after term 5 (NEW, claimed at 1000) and term 6 (MID, claimed at 3000).
  const MID = '12D3KooWMIDMIDMIDMIDMIDMIDMIDMIDMIDMIDMIDMIDMIDMIDMI'
  const later = {
    ...lease,
    term: 7,
    value: {
      ...lease.value!,
      term: 7,
      claim: { wall: 5000, counter: 0, node: NEW },
      history: historyAfter({ ...lease.value!, history: [] }).concat({
        term: 6,
        holder: MID,
        claim: { wall: 3000, counter: 0, node: MID },
      }),
    },
  } as StateRecord<LeaseValue>

  it('bounds an old term’s work by the claim of the term after it, known from the newest lease’s history', () => {
    // Term 5's holder writing after term 6 began: stale, though stamped before the current term 7 began. A node
    // that learned term 7 without ever seeing term 6's lease refuses it all the same.
    expect(judgeFenced(record(NEW, 5, 3500), later)).toMatch(/after term 6 began/)
    expect(judgeFenced(record(NEW, 5, 2999), later)).toBeUndefined()
    expect(judgeFenced(record(MID, 6, 4000), later)).toBeUndefined()
    expect(judgeFenced(record(MID, 6, 5001), later)).toMatch(/after term 7 began/)
    // Older than anything the history holds: bounded by its oldest claim.
    expect(judgeFenced(record(OLD, 2, 999), later)).toBeUndefined()
    expect(judgeFenced(record(OLD, 2, 1001), later)).toMatch(/after term 5 began/)
  })

  it('carries at most LEASE_HISTORY_TERMS past terms, oldest dropped', () => {
    let value: LeaseValue = lease.value!
    for (let term = 6; term < 6 + LEASE_HISTORY_TERMS + 4; term++) {
      value = {
        ...value,
        term,
        claim: { wall: term * 1000, counter: 0, node: NEW },
        history: historyAfter(value),
      }
    }
    expect(value.history).toHaveLength(LEASE_HISTORY_TERMS)
    expect(value.history!.at(-1)!.term).toBe(value.term - 1)
    expect(value.history![0]!.term).toBe(value.term - LEASE_HISTORY_TERMS)
  })
})

describe('the lease record’s writer rule', () => {
  const judge = (claimWall: number, recordWall: number) =>
    writerViolation(leaseKind, {
      ...lease,
      stamp: { wall: recordWall, counter: 1, node: NEW },
      value: { ...lease.value!, claim: { wall: claimWall, counter: 0, node: NEW } },
    })

  it('refuses a history whose terms do not rise or whose claims are out of order', () => {
    const withHistory = (history: LeaseValue['history']) =>
      writerViolation(leaseKind, { ...lease, value: { ...lease.value!, history } })
    const past = (term: number, wall: number) => ({
      term,
      holder: OLD,
      claim: { wall, counter: 0, node: OLD },
    })
    expect(withHistory([past(3, 500), past(4, 900)])).toBeUndefined()
    expect(withHistory([past(4, 500), past(3, 900)])).toMatch(/rise/)
    expect(withHistory([past(5, 500)])).toMatch(/rise/)
    expect(withHistory([past(3, 900), past(4, 500)])).toMatch(/out of order/)
    expect(withHistory([past(4, 2000)])).toMatch(/out of order/)
  })

  it('refuses a claim stamped after its own record (it would let an old term’s work through the fence)', () => {
    expect(judge(1000 + 3_600_000, 1000)).toMatch(/later/)
    expect(judge(1000, 1000)).toBeUndefined()
    expect(judge(900, 1000)).toBeUndefined()
  })
})
