import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareRecords, mergeRecords, type StateRecord } from '../../src/state/record.js'

// Small domains on purpose, so that equal terms, walls, counters and writers (the tie cases) are common.
const recordArb: fc.Arbitrary<StateRecord> = fc
  .record({
    term: fc.integer({ min: 0, max: 2 }),
    wall: fc.integer({ min: 0, max: 3 }),
    counter: fc.integer({ min: 0, max: 2 }),
    node: fc.constantFrom('12D3KooWa', '12D3KooWb', '12D3KooWc'),
    value: fc.constantFrom('x', 'y', 'z', null),
  })
  .map(({ term, wall, counter, node, value }) => {
    const deleted = value === null
    const body = JSON.stringify({ k: 'test/k', v: value, w: wall, c: counter, o: node, e: term })
    return {
      key: 'test/k',
      value,
      stamp: { wall, counter, node },
      origin: node,
      deleted,
      term,
      body,
      sig: '',
    }
  })

describe('last-writer-wins merge', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(recordArb, recordArb, (a, b) => {
        expect(mergeRecords(a, b)).toEqual(mergeRecords(b, a))
      }),
    )
  })

  it('is associative', () => {
    fc.assert(
      fc.property(recordArb, recordArb, recordArb, (a, b, c) => {
        expect(mergeRecords(mergeRecords(a, b), c)).toEqual(mergeRecords(a, mergeRecords(b, c)))
      }),
    )
  })

  it('is idempotent', () => {
    fc.assert(
      fc.property(recordArb, (a) => {
        expect(mergeRecords(a, a)).toEqual(a)
      }),
    )
  })

  it('lets a higher term win over any stamp', () => {
    fc.assert(
      fc.property(recordArb, recordArb, (a, b) => {
        fc.pre(a.term !== b.term)
        expect(mergeRecords(a, b).term).toBe(Math.max(a.term, b.term))
      }),
    )
  })

  it('converges to the same record whatever order replicas receive writes in', () => {
    const permuted = fc
      .array(recordArb, { minLength: 1, maxLength: 12 })
      .chain((records) =>
        fc.tuple(
          fc.constant(records),
          fc.shuffledSubarray(records, { minLength: records.length, maxLength: records.length }),
        ),
      )
    fc.assert(
      fc.property(permuted, ([records, shuffled]) => {
        const inOrder = records.reduce(mergeRecords)
        const outOfOrder = shuffled.reduce(mergeRecords)
        expect(compareRecords(inOrder, outOfOrder)).toBe(0)
        expect(outOfOrder).toEqual(inOrder)
      }),
    )
  })
})
