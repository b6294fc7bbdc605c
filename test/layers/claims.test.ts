import { describe, expect, it } from 'vitest'
import { ClaimBook } from '../../src/layers/claims.js'
import type { Digest } from '../../src/layers/digest.js'

const BLOB = `sha256:${'b'.repeat(64)}` as Digest
const claim = (holder: string, wall: number, mode: 'origin' | 'relay' = 'origin', fetching = false) => ({
  holder,
  digest: BLOB,
  claimedAt: { wall, counter: 0, node: holder },
  mode,
  fetching,
})

describe('the claim book', () => {
  it('follows the earliest live origin claim, whatever order the claims arrive in', () => {
    const book = new ClaimBook()
    book.observe(claim('late', 200), false)
    book.observe(claim('early', 100), false)
    expect(book.firstClaim(BLOB, () => true)).toBe('early')
    // A claimant that is not usable (dead, or marked bad) is passed over.
    expect(book.firstClaim(BLOB, (peer) => peer !== 'early')).toBe('late')
  })

  it('follows a claimant already fetching over an earlier claim that arrived late (a stalled process)', () => {
    const book = new ClaimBook()
    book.observe(claim('fetching', 200, 'origin', true), false)
    book.observe(claim('stalled', 100), false)
    expect(book.firstClaim(BLOB, () => true)).toBe('fetching')
    // Two that both say so (they decided at the same moment): the earlier one.
    book.observe(claim('also-fetching', 150, 'origin', true), false)
    expect(book.firstClaim(BLOB, () => true)).toBe('also-fetching')
    // One that is not usable is passed over, fetching or not.
    expect(book.firstClaim(BLOB, (peer) => !peer.includes('fetching'))).toBe('stalled')
  })

  it('remembers a claimant that fetched the blob and just released its claim: it holds the blob now', () => {
    const book = new ClaimBook()
    // One that lost its settle released its claim too, without fetching anything: following it as the head of
    // a relay chain, while it relays from us, closed a cycle in which both waited 30 s for nothing.
    book.observe(claim('lost', 50), true)
    expect(book.firstClaim(BLOB, () => true)).toBeUndefined()
    book.observe(claim('done', 100, 'origin', true), true)
    expect(book.firstClaim(BLOB, () => true)).toBe('done')
  })

  it('knows when an earlier claimant fetched the blob and released its claim while a later one settled', () => {
    const book = new ClaimBook()
    const mine = { wall: 200, counter: 0, node: 'me' }
    book.observe(claim('me', 200), false)
    expect(book.releasedBefore(BLOB, mine, () => true)).toBe(false)
    book.observe(claim('later', 300), true)
    expect(book.releasedBefore(BLOB, mine, () => true)).toBe(false)
    book.observe(claim('relay', 100, 'relay'), true)
    expect(book.releasedBefore(BLOB, mine, () => true)).toBe(false)
    book.observe(claim('earlier', 100), true)
    expect(book.releasedBefore(BLOB, mine, () => true)).toBe(true)
    // Only one that holds the blob counts (a claimant whose fetch failed released its claim too).
    expect(book.releasedBefore(BLOB, mine, (peer) => peer !== 'earlier')).toBe(false)
  })

  it('lines relays up by the time they joined, each streaming from the one before', () => {
    const book = new ClaimBook()
    book.observe(claim('origin', 50), false)
    book.observe(claim('r3', 300, 'relay'), false)
    book.observe(claim('r1', 100, 'relay'), false)
    book.observe(claim('r2', 200, 'relay'), false)
    expect(book.firstClaim(BLOB, () => true)).toBe('origin')
    expect(book.relayUpstream(BLOB, 'r1', 'origin', () => true)).toBe('origin')
    expect(book.relayUpstream(BLOB, 'r2', 'origin', () => true)).toBe('r1')
    expect(book.relayUpstream(BLOB, 'r3', 'origin', () => true)).toBe('r2')
    // A relay that dropped out is skipped: its follower takes the one before it.
    expect(book.relayUpstream(BLOB, 'r3', 'origin', (peer) => peer !== 'r2')).toBe('r1')
  })

  it('points a relay streaming from too early a node at the relay that joined between them', () => {
    const book = new ClaimBook()
    book.observe(claim('origin', 50, 'origin', true), false)
    book.observe(claim('me', 300, 'relay'), false)
    // Alone in the chain, or streaming from the right node: nowhere to move.
    expect(book.closerRelay(BLOB, 'me', 'origin', () => true)).toBeUndefined()
    // Two relays joined before us at the same moment (we started from the claimant before we saw them).
    book.observe(claim('r1', 100, 'relay'), false)
    book.observe(claim('r2', 200, 'relay'), false)
    expect(book.closerRelay(BLOB, 'me', 'origin', () => true)).toBe('r2')
    expect(book.closerRelay(BLOB, 'me', 'r1', () => true)).toBe('r2')
    expect(book.closerRelay(BLOB, 'me', 'r2', () => true)).toBeUndefined()
    // One not usable is passed over.
    expect(book.closerRelay(BLOB, 'me', 'origin', (peer) => peer !== 'r2')).toBe('r1')
    // An upstream that released its claim has the whole blob: no reason to leave it.
    book.observe(claim('r1', 100, 'relay'), true)
    expect(book.closerRelay(BLOB, 'me', 'r1', () => true)).toBeUndefined()
    // For r2 the relay before it is done (released): the claimant stays its upstream.
    expect(book.closerRelay(BLOB, 'r2', 'origin', () => true)).toBeUndefined()
  })

  it('tells the later of two fetching claimants that the other fetches since before it', () => {
    const book = new ClaimBook()
    book.observe(claim('me', 200, 'origin', true), false)
    // Alone, or with only claims that are not fetching: nobody to give way to.
    book.observe(claim('settling', 100), false)
    expect(book.earlierFetcher(BLOB, 'me', () => true)).toBeUndefined()
    // Two settled without seeing each other: the later one gives way, the earlier one goes on.
    book.observe(claim('other', 150, 'origin', true), false)
    expect(book.earlierFetcher(BLOB, 'me', () => true)).toBe('other')
    expect(book.earlierFetcher(BLOB, 'other', () => true)).toBeUndefined()
    // Not to one that is gone, nor to one that is done (it holds the blob: the next route finds it).
    expect(book.earlierFetcher(BLOB, 'me', (peer) => peer !== 'other')).toBeUndefined()
    book.observe(claim('other', 150, 'origin', true), true)
    expect(book.earlierFetcher(BLOB, 'me', () => true)).toBeUndefined()
  })
})
