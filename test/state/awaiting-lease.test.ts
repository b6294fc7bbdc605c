// The hold for records ahead of their lease: newest per key, oldest out first past a bound, out after its time.
import { beforeAll, expect, it } from 'vitest'
import { AwaitingLease } from '../../src/state/awaiting-lease.js'
import type { StateRecord } from '../../src/state/record.js'
import { encodeRecord } from '../../src/state/wire.js'
import { newIdentity, type TestIdentity } from '../helpers/keys.js'

let writer: TestIdentity
beforeAll(async () => {
  writer = await newIdentity()
})

function work(key: string, term: number, counter = 0, size = 10): StateRecord {
  const stamp = { wall: 1_800_000_000_000, counter, node: writer.peerId }
  return encodeRecord(writer.signer, key, { pad: 'x'.repeat(size) }, stamp, { term })
}

function lot(limits: { maxRecords?: number; maxBytes?: number } = {}) {
  let now = 0
  const held = new AwaitingLease(
    { holdMs: 1_000, maxRecords: limits.maxRecords ?? 100, maxBytes: limits.maxBytes ?? 1_000_000 },
    () => now,
  )
  return { held, advance: (ms: number) => (now += ms) }
}

it('keeps the newest version of a key, and releases what the judge accepts or refuses', () => {
  const { held } = lot()
  expect(held.hold(work('work/a', 5, 1), 'p1')).toBe(0)
  expect(held.hold(work('work/a', 5, 0), 'p1')).toBe(0)
  expect(held.hold(work('work/b', 7), 'p2')).toBe(0)
  expect(held.hold(work('work/c', 9), 'p2')).toBe(0)
  expect(held.size).toBe(3)
  const verdicts = { 5: 'accept', 7: 'refuse', 9: 'wait' } as const
  const { accepted, refused } = held.release((record) => verdicts[record.term as 5 | 7 | 9])
  expect(accepted.map(({ record, from }) => [record.key, record.stamp.counter, from])).toEqual([
    ['work/a', 1, 'p1'],
  ])
  expect(refused).toBe(1)
  expect(held.size).toBe(1)
})

it('drops the oldest records past its count or byte bound', () => {
  const byCount = lot({ maxRecords: 2 }).held
  expect(byCount.hold(work('work/a', 5), 'p')).toBe(0)
  expect(byCount.hold(work('work/b', 5), 'p')).toBe(0)
  expect(byCount.hold(work('work/c', 5), 'p')).toBe(1)
  const keys = (from: AwaitingLease) => from.release(() => 'accept').accepted.map(({ record }) => record.key)
  expect(keys(byCount)).toEqual(['work/b', 'work/c'])

  const big = work('work/big', 5, 0, 2_000)
  const byBytes = lot({ maxBytes: big.body.length * 2 + 10 }).held
  byBytes.hold(big, 'p')
  byBytes.hold(work('work/big2', 5, 0, 2_000), 'p')
  expect(byBytes.hold(work('work/big3', 5, 0, 2_000), 'p')).toBe(1)
  expect(keys(byBytes)).toEqual(['work/big2', 'work/big3'])
})

it('lets records go once their time is up, oldest first', () => {
  const { held, advance } = lot()
  held.hold(work('work/a', 5), 'p')
  advance(600)
  held.hold(work('work/b', 5), 'p')
  expect(held.nextExpiry()).toBe(1_000)
  advance(400)
  expect(held.expire()).toBe(1)
  expect(held.nextExpiry()).toBe(1_600)
  advance(600)
  expect(held.expire()).toBe(1)
  expect(held.size).toBe(0)
  expect(held.nextExpiry()).toBeUndefined()
})
