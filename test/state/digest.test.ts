import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bucketOf, SyncDigest } from '../../src/state/digest.js'
import type { Version } from '../../src/state/record.js'

const entryArb = fc.tuple(
  fc.string({ minLength: 1, maxLength: 12 }).map((s) => `test/${s}`),
  fc.tuple(fc.nat(3), fc.nat(1000), fc.nat(3), fc.constantFrom('a', 'b')) as fc.Arbitrary<Version>,
)

describe('SyncDigest', () => {
  it('is the same for the same (key, version) set whatever the order it was learned in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { selector: ([key]) => key, maxLength: 50 }), (entries) => {
        const forward = new SyncDigest()
        const backward = new SyncDigest()
        for (const [key, version] of entries) forward.toggle(key, version)
        for (const [key, version] of [...entries].reverse()) backward.toggle(key, version)
        expect(forward.differingBuckets(backward.encode())).toEqual([])
      }),
    )
  })

  it('flags exactly the bucket of a key whose version differs', () => {
    const mine = new SyncDigest()
    const theirs = new SyncDigest()
    mine.toggle('test/a', [0, 1, 0, 'a'])
    theirs.toggle('test/a', [0, 2, 0, 'a'])
    expect(mine.differingBuckets(theirs.encode())).toEqual([bucketOf('test/a')])
  })

  it('returns to its old value when an update is undone (toggle is its own inverse)', () => {
    const digest = new SyncDigest()
    const empty = digest.encode()
    digest.toggle('test/a', [0, 1, 0, 'a'])
    digest.toggle('test/a', [0, 1, 0, 'a'])
    expect(digest.encode()).toBe(empty)
  })

  it('treats a malformed remote digest as differing everywhere', () => {
    expect(new SyncDigest().differingBuckets('bm9wZQ==')).toHaveLength(256)
  })
})
