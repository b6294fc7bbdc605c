// A member of the mesh writing records it may not, at the edge of their numbers, replaying old ones, and abusing sync.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { COORDINATOR_LEASE_KEY, type LeaseValue } from '../../src/coordinator/index.js'
import { nodeKind } from '../../src/membership/index.js'
import { MAX_CLOCK_SKEW_MS, MAX_HLC_COUNTER } from '../../src/state/constants.js'
import { toWire } from '../../src/state/wire.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { newIdentity } from '../helpers/keys.js'
import { metric } from '../helpers/metrics.js'
import {
  envelope,
  type RoguePeer,
  type SyncAnswer,
  signedWire,
  startRogueAgainst,
} from '../helpers/rogue-peer.js'
import { waitFor } from '../helpers/wait.js'

/** The code of the error frame a sync answer ended with, if it ended with one. */
function refusal(answer: SyncAnswer): unknown {
  const last = answer.frames.at(-1)
  return last?.t === 'error' ? last.code : `no error frame (ended ${answer.ended}, last ${last?.t})`
}

describe('records from a hostile member of the mesh', () => {
  let victim: TestNode
  let witness: TestNode
  let rogue: RoguePeer

  beforeAll(async () => {
    victim = await startNode({ name: 'victim' })
    witness = await startNode({ name: 'witness', join: victim })
    rogue = await startRogueAgainst(victim)
    await agreedCoordinator([victim, witness])
  })
  afterAll(async () => {
    await rogue?.stop()
    await destroyNodes([victim, witness].filter(Boolean))
  })

  const dropped = (reason: string, source = 'gossip'): Promise<number> =>
    metric(victim, 'shoal_records_dropped_total', { reason, source })

  it('refuses a node record of its own that names another peer, in its body or its addresses', async () => {
    const me = rogue.identity.peerId
    const other = witness.daemon.peerId
    const honest = { ...victim.daemon.state.kind(nodeKind).value(witness.daemon.peerId)!, name: 'rogue' }
    const before = { writer: await dropped('writer'), schema: await dropped('schema') }
    await rogue.publish(envelope(signedWire(rogue.identity, `node/${me}`, { ...honest, peerId: other })))
    await rogue.publish(
      envelope(
        signedWire(rogue.identity, `node/${me}`, {
          ...honest,
          peerId: me,
          addresses: [`/ip4/127.0.0.1/tcp/4001/p2p/${me}`, `/ip4/127.0.0.1/tcp/4002/p2p/${other}`],
        }),
      ),
    )
    await waitFor(
      'both to be refused by the writer rule',
      async () => (await dropped('writer')) >= before.writer + 2,
    )
    expect(await dropped('schema')).toBe(before.schema)
    expect(victim.daemon.state.get(`node/${me}`)).toBeUndefined()
  })

  it('refuses a tombstone of another node’s record written under a term, which would outrank it for good', async () => {
    const key = `node/${witness.daemon.peerId}`
    const before = await dropped('schema')
    await rogue.publish(envelope(signedWire(rogue.identity, key, null, {}, { term: 1_000, deleted: true })))
    await waitFor('the termed tombstone to be refused', async () => (await dropped('schema')) > before)
    expect(victim.daemon.state.get(key)?.deleted).toBe(false)
  })

  it('refuses a record whose own signature is bad on gossip just as on sync, so no node holds it', async () => {
    const someoneElse = await newIdentity()
    const good = signedWire(rogue.identity, 'test/badly-signed', 'x')
    // The body is the rogue's; the signature over the same body is another key's.
    const forged = { b: good.b, s: someoneElse.signer.sign(good.b) }
    await rogue.publish(envelope(forged))
    await waitFor('the gossiped record to be refused', async () => (await dropped('signature')) >= 1)
    const answer = await rogue.sync([
      { t: 'digest', d: '' },
      { t: 'records', r: [forged] },
      { t: 'push-end' },
    ])
    expect(answer.frames.at(-1)?.t).toBe('end')
    expect(await dropped('signature', 'sync')).toBeGreaterThanOrEqual(1)
    expect(victim.daemon.state.get('test/badly-signed')).toBeUndefined()
    expect(witness.daemon.state.get('test/badly-signed')).toBeUndefined()
  })

  it('refuses a value of the wrong shape (v: null included) for every kind, counted, never thrown', async () => {
    const kinds = victim.daemon.state.kinds.names()
    const me = rogue.identity.peerId
    const before = await dropped('schema')
    for (const value of [null, 'wrong', { entries: null }, [1, 2]]) {
      for (const kind of kinds.filter((name) => name !== 'test' && name !== 'work')) {
        await rogue.publish(envelope(signedWire(rogue.identity, `${kind}/${me}`, value)))
      }
    }
    const expected = before + 4 * (kinds.length - 2)
    await waitFor('every one to be counted as schema', async () => (await dropped('schema')) >= expected)
    expect(await dropped('schema')).toBe(expected)
    for (const kind of kinds) expect(victim.daemon.state.get(`${kind}/${me}`)).toBeUndefined()
  })

  it('refuses a stamp counter past 2^32 − 1, and still writes after taking one at the bound', async () => {
    const edge = Date.now() + MAX_CLOCK_SKEW_MS - 1_000
    await rogue.publish(
      envelope(
        signedWire(rogue.identity, 'test/poison', 1, { wall: edge, counter: Number.MAX_SAFE_INTEGER }),
      ),
    )
    await waitFor('the poison to be refused as range', async () => (await dropped('range')) >= 1)
    expect(victim.daemon.state.get('test/poison')).toBeUndefined()

    await rogue.publish(
      envelope(signedWire(rogue.identity, 'test/at-the-bound', 1, { wall: edge, counter: MAX_HLC_COUNTER })),
    )
    await waitFor('the record at the bound', () => victim.daemon.state.get('test/at-the-bound'))
    const { record } = await victim.daemon.state.put('test/after-the-bound', 'still writing')
    expect(record.stamp.counter).toBeLessThanOrEqual(MAX_HLC_COUNTER)
    await waitFor('the witness to take the victim’s write', () =>
      witness.daemon.state.get('test/after-the-bound'),
    )
  })

  it('keeps the newer record and its tombstone when a member replays an older signed version', async () => {
    await witness.daemon.state.put('test/replayed', 'first')
    const first = await waitFor('the first version', () => victim.daemon.state.get('test/replayed'))
    const old = toWire(first)
    await witness.daemon.state.put('test/replayed', 'second')
    await witness.daemon.state.remove('test/replayed')
    await waitFor('the tombstone', () => victim.daemon.state.get('test/replayed')?.deleted)

    // By gossip it is not the rogue's own write; by sync it is older than what the victim holds.
    const writerBefore = await dropped('writer')
    await rogue.publish(envelope(old))
    await waitFor('the gossiped replay to be refused', async () => (await dropped('writer')) > writerBefore)
    const answer = await rogue.sync([{ t: 'digest', d: '' }, { t: 'records', r: [old] }, { t: 'push-end' }])
    expect(answer.frames.at(-1)?.t).toBe('end')
    expect(victim.daemon.state.get('test/replayed')?.deleted).toBe(true)
    expect(witness.daemon.state.get('test/replayed')?.deleted).toBe(true)
  })

  it('answers a want of listed keys once each, and refuses repeated or unlisted keys with SHOAL_SYNC_LIMIT', async () => {
    await witness.daemon.state.put('test/wanted', 'w')
    await waitFor('the record to reach the victim', () => victim.daemon.state.get('test/wanted'))
    const round = (k: string[]) => rogue.sync([{ t: 'digest', d: '' }, { t: 'want', k }, { t: 'push-end' }])

    const once = await round(['test/wanted'])
    const records = once.frames
      .filter((frame) => frame.t === 'records')
      .flatMap((frame) => frame.r as unknown[])
    expect(records).toHaveLength(1)
    expect(once.frames.at(-1)?.t).toBe('end')

    expect(refusal(await round(['test/wanted', 'test/wanted']))).toBe('SHOAL_SYNC_LIMIT')
    expect(refusal(await round(Array.from({ length: 10_000 }, () => 'test/wanted')))).toBe('SHOAL_SYNC_LIMIT')
    expect(refusal(await round(['test/never-written']))).toBe('SHOAL_SYNC_LIMIT')
    // Ten million keys do not fit a frame: refused at the frame bound, before anything is parsed.
    const huge = await rogue.sync([{ t: 'digest', d: '' }, { raw: Uint8Array.of(0x80, 0x80, 0x80, 0x32) }])
    expect(refusal(huge)).toBe('SHOAL_SYNC_LIMIT')
    // Nor does a length prefix that never ends: refused once it is longer than the largest frame needs.
    const endless = await rogue.sync([{ raw: new Uint8Array(64).fill(0xff) }])
    expect(refusal(endless)).toBe('SHOAL_SYNC_LIMIT')
  })

  it('ends a round with SHOAL_SYNC_PROTOCOL on frames that do not parse or come out of order, and keeps serving', async () => {
    const errorsBefore = await metric(victim, 'shoal_sync_rounds_total', {
      role: 'responder',
      result: 'error',
    })
    expect(refusal(await rogue.sync(['{not json']))).toBe('SHOAL_SYNC_PROTOCOL')
    expect(refusal(await rogue.sync([{ t: 'digest', d: 42 }]))).toBe('SHOAL_SYNC_PROTOCOL')
    expect(refusal(await rogue.sync([{ t: 'end' }]))).toBe('SHOAL_SYNC_PROTOCOL')
    // A peer that stops half way (here after its digest) is told so at once, not waited for.
    expect(refusal(await rogue.sync([{ t: 'digest', d: '' }]))).toBe('SHOAL_SYNC_PROTOCOL')
    expect(
      refusal(
        await rogue.sync([
          { t: 'digest', d: '' },
          { t: 'entries', e: [] },
        ]),
      ),
    ).toBe('SHOAL_SYNC_PROTOCOL')
    expect(
      await metric(victim, 'shoal_sync_rounds_total', { role: 'responder', result: 'error' }),
    ).toBeGreaterThanOrEqual(errorsBefore + 5)
    const status = await fetch(`${victim.daemon.api.httpUrl}/v1/status`)
    expect(status.status).toBe(200)
  })

  // Last: it takes the coordinator role away from the honest nodes for a few seconds.
  it('refuses a lease past the term ceiling, and one at the ceiling does not end coordination', async () => {
    const me = rogue.identity.peerId
    const lease = (term: number, wall: number): LeaseValue => ({
      holder: me,
      holderName: 'rogue',
      term,
      claim: { wall, counter: 0, node: me },
      since: wall,
      expiresAt: wall + 3_000,
      durationMs: 3_000,
    })
    // Just under the skew bound: the honest claim after it must wait for the ceiling to pass the rogue's term.
    const wall = Date.now() + MAX_CLOCK_SKEW_MS - 1_000
    const rangeBefore = await dropped('range')
    await rogue.publish(
      envelope(
        signedWire(
          rogue.identity,
          COORDINATOR_LEASE_KEY,
          lease(Number.MAX_SAFE_INTEGER, wall),
          { wall, counter: 1 },
          { term: Number.MAX_SAFE_INTEGER },
        ),
      ),
    )
    await waitFor(
      'the lease past the ceiling to be refused',
      async () => (await dropped('range')) > rangeBefore,
    )
    expect(victim.daemon.coordinator.term()).toBeLessThan(1_000)

    // The highest term a claim stamped `wall` may carry: taken, and the honest nodes still elect after it.
    await rogue.publish(
      envelope(
        signedWire(
          rogue.identity,
          COORDINATOR_LEASE_KEY,
          lease(wall, wall),
          { wall, counter: 1 },
          { term: wall },
        ),
      ),
    )
    await waitFor('the rogue’s lease', () => victim.daemon.coordinator.term() === wall)
    const after = await agreedCoordinator(
      [victim, witness],
      'an honest coordinator after the rogue’s lease',
      30_000,
    )
    expect(after.term).toBe(wall + 1)
    expect([victim.daemon.peerId, witness.daemon.peerId]).toContain(after.holder)
  })
})
