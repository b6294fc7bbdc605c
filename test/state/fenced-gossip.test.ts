// A new term's lease and the work under it, both taken from gossip: one message, one RPC, two, or the work first.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { COORDINATOR_LEASE_KEY, type LeaseValue } from '../../src/coordinator/index.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { envelope, type RoguePeer, signedWire, startRogueAgainst } from '../helpers/rogue-peer.js'
import { waitFor } from '../helpers/wait.js'

let node: TestNode
let peer: RoguePeer
beforeAll(async () => {
  node = await startNode({ name: 'fg' })
  // A bare member that claims the next term by hand: the way to send a lease and its work in one breath.
  peer = await startRogueAgainst(node)
})
afterAll(async () => {
  await peer?.stop()
  await destroyNodes([node].filter(Boolean))
})

/** A claim stamp of `node` at wall time `at`. */
const claimOf = (node: string, at: number) => ({ wall: at, counter: 0, node })

/** The bare member's lease for `term`, claimed at `at` (its record stamped then too), with a history if given. */
function leaseWire(term: number, at: number, history?: LeaseValue['history']): unknown {
  const me = peer.identity.peerId
  const value: LeaseValue = {
    holder: me,
    holderName: 'claimant',
    term,
    claim: claimOf(me, at),
    since: at,
    expiresAt: at + 3_000,
    durationMs: 3_000,
  }
  if (history !== undefined) value.history = history
  return signedWire(peer.identity, COORDINATOR_LEASE_KEY, value, { wall: at, counter: 1 }, { term })
}

/** A lease for the next term claimed by the bare member, and a record of work under that term. */
function claimAndWork(round: number): { term: number; lease: unknown; work: unknown; key: string } {
  // Well past the node's term: should the node claim between two rounds (it sees no live holder, and waits out
  // only a grace), its claim can never take the term the member is about to claim.
  const term = node.daemon.coordinator.term() + 10
  const wall = Date.now()
  const key = `work/round-${round}`
  return {
    term,
    key,
    lease: leaseWire(term, wall),
    work: signedWire(peer.identity, key, { round }, { wall, counter: 2 }, { term }),
  }
}

/** Round after round: sends each round's lease and work as `send` does, and sees the work taken under its term. */
async function takesWorkEachRound(
  rounds: readonly number[],
  send: (round: number, lease: unknown, work: unknown) => Promise<unknown>,
): Promise<void> {
  for (const round of rounds) {
    const { term, lease, work, key } = claimAndWork(round)
    await send(round, lease, work)
    await waitFor(`the work of round ${round} under term ${term}`, () => node.daemon.state.get(key), {
      timeoutMs: 5_000,
    })
    expect(node.daemon.coordinator.term()).toBe(term)
  }
}

const staleTermDrops = () =>
  metric(node, 'shoal_records_dropped_total', { reason: 'stale-term', source: 'gossip' })
const awaitingLease = () => metric(node, 'shoal_records_awaiting_lease')
/** Held records dropped: their lease never came (unknown-term) or came and refused them (stale-term). */
const awaitingDrops = async () =>
  (await metric(node, 'shoal_records_dropped_total', { reason: 'unknown-term', source: 'awaiting' })) +
  (await metric(node, 'shoal_records_dropped_total', { reason: 'stale-term', source: 'awaiting' }))

// Round after round at once: each claim renews the member's hold before the node could claim itself.
it('takes work in the same gossip message as the lease of its term, before or after it', async () => {
  await agreedCoordinator([node], 'a coordinator', 20_000)
  // The work first in every other round: a message's fenced records are judged after the rest of it.
  await takesWorkEachRound([1, 2, 3, 4], (round, lease, work) =>
    peer.publish(round % 2 === 0 ? envelope(work, lease) : envelope(lease, work)),
  )
  expect(await staleTermDrops()).toBe(0)
})

it('takes work gossiped right after the lease of its term, in a message of its own', async () => {
  // Not awaited one before the other: both are on the wire before the first is delivered.
  await takesWorkEachRound([11, 12, 13, 14], (_, lease, work) =>
    Promise.all([peer.publish(envelope(lease)), peer.publish(envelope(work))]),
  )
  expect(await staleTermDrops()).toBe(0)
})

// Within one gossipsub RPC every message is validated before any is delivered (an IWANT answer after a reconnect).
it('takes work that comes in the same gossipsub RPC as the lease of its term, in a message after it', async () => {
  await takesWorkEachRound([15, 16, 17, 18], (_, lease, work) =>
    peer.publishInOneRpc([envelope(lease), envelope(work)]),
  )
  expect(await staleTermDrops()).toBe(0)
})

// The same, with the work a message ahead of its lease on the wire.
it('holds work gossiped before the lease of its term, and takes it when the lease comes', async () => {
  const dropsBefore = await awaitingDrops()
  for (let round = 21; round <= 23; round++) {
    const { term, lease, work, key } = claimAndWork(round)
    await peer.publish(envelope(work))
    await waitFor(
      `the work of round ${round} to wait for its lease`,
      async () => (await awaitingLease()) === 1,
      {
        timeoutMs: 5_000,
      },
    )
    expect(node.daemon.state.get(key)).toBeUndefined()
    await peer.publish(envelope(lease))
    // Sooner than any anti-entropy round would bring it (the work is not sent again).
    await waitFor(`the work of round ${round} under term ${term}`, () => node.daemon.state.get(key), {
      timeoutMs: 2_000,
    })
    expect(node.daemon.coordinator.term()).toBe(term)
    expect(await awaitingLease()).toBe(0)
  }
  expect(await staleTermDrops()).toBe(0)
  expect(await awaitingDrops()).toBe(dropsBefore)
})

// Leases are one record, last writer wins: a node can learn term n + 2 without ever seeing term n + 1's lease.
it('withdraws a term’s work written after the next term began, known only from a later lease’s history', async () => {
  const me = peer.identity.peerId
  const first = node.daemon.coordinator.term() + 10
  const wall = Date.now()
  const key = 'work/after-the-next-term-began'
  const work = signedWire(
    peer.identity,
    key,
    { late: true },
    { wall: wall + 20, counter: 0 },
    { term: first },
  )
  await peer.publish(envelope(leaseWire(first, wall, []), work))
  await waitFor('the work under the first term', () => node.daemon.state.get(key), { timeoutMs: 5_000 })
  const withdrawn = () =>
    metric(node, 'shoal_records_dropped_total', { reason: 'stale-term', source: 'refence' })
  const withdrawnBefore = await withdrawn()

  // Term first + 1 was claimed by another peer 10 ms before that work was written; this node never hears of it
  // but from the history of term first + 2, claimed after the work.
  const other = node.daemon.state.peerId
  const history = [
    { term: first, holder: me, claim: claimOf(me, wall) },
    { term: first + 1, holder: other, claim: claimOf(other, wall + 10) },
  ]
  await peer.publish(envelope(leaseWire(first + 2, wall + 30, history)))
  await waitFor('the work to be withdrawn', () => node.daemon.state.get(key) === undefined, {
    timeoutMs: 5_000,
  })
  expect(node.daemon.coordinator.term()).toBe(first + 2)
  expect(await withdrawn()).toBe(withdrawnBefore + 1)
})

it('drops held work whose lease never comes, after a short while', async () => {
  const { term, work, key } = claimAndWork(31)
  const dropsBefore = await awaitingDrops()
  await peer.publish(envelope(work))
  await waitFor('the work to wait for its lease', async () => (await awaitingLease()) === 1, {
    timeoutMs: 5_000,
  })
  await waitFor('the held work to be dropped', async () => (await awaitingDrops()) === dropsBefore + 1, {
    timeoutMs: 15_000,
  })
  expect(await awaitingLease()).toBe(0)
  expect(node.daemon.state.get(key)).toBeUndefined()
  expect(node.daemon.coordinator.term()).toBeLessThan(term)
}, 30_000)
