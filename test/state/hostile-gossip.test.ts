import { deflateRawSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeKind } from '../../src/membership/index.js'
import { DEFLATED_MARKER } from '../../src/state/envelope.js'
import { encodeRecord, toWire } from '../../src/state/wire.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { newIdentity } from '../helpers/keys.js'
import { metric } from '../helpers/metrics.js'
import { envelope, type RoguePeer, startRogueAgainst } from '../helpers/rogue-peer.js'
import { waitFor } from '../helpers/wait.js'

/** The same, deflated as members send large batches. */
function deflated(text: string | Uint8Array): Uint8Array {
  return new Uint8Array([DEFLATED_MARKER, ...deflateRawSync(text)])
}

describe('gossip from a hostile member of the mesh', () => {
  let victim: TestNode
  let witness: TestNode
  let rogue: RoguePeer

  beforeAll(async () => {
    victim = await startNode({ name: 'victim' })
    witness = await startNode({ name: 'witness', join: victim })
    rogue = await startRogueAgainst(victim)
  })
  afterAll(async () => {
    await rogue?.stop()
    await destroyNodes([victim, witness].filter(Boolean))
  })

  const dropped = (reason: string): Promise<number> =>
    metric(victim, 'shoal_gossip_messages_dropped_total', { reason })

  it('drops and counts a node record about another peer', async () => {
    const { signer, peerId } = rogue.identity
    const witnessRecord = victim.daemon.state.kind(nodeKind).value(witness.daemon.peerId)!
    // A well-formed record (it passes the schema), signed and published by the wrong peer.
    const forged = encodeRecord(
      signer,
      `node/${witness.daemon.peerId}`,
      { ...witnessRecord, name: 'owned' },
      {
        wall: Date.now(),
        counter: 0,
        node: peerId,
      },
    )
    await rogue.publish(envelope(toWire(forged)))
    await waitFor('the forged record to be counted', async () => (await dropped('writer')) >= 1)
    expect(
      await metric(victim, 'shoal_records_dropped_total', { reason: 'writer', source: 'gossip' }),
    ).toBeGreaterThanOrEqual(1)
    expect(victim.daemon.state.kind(nodeKind).value(witness.daemon.peerId)).toMatchObject({ name: 'witness' })
  })

  it('drops a record that claims another origin than the peer that signed the message', async () => {
    const someoneElse = await newIdentity()
    const record = encodeRecord(someoneElse.signer, 'test/impersonated', 'x', {
      wall: Date.now(),
      counter: 0,
      node: someoneElse.peerId,
    })
    const before = await dropped('writer')
    await rogue.publish(envelope(toWire(record)))
    await waitFor('the impersonation to be counted', async () => (await dropped('writer')) > before)
    expect(victim.daemon.state.get('test/impersonated')).toBeUndefined()
  })

  it('drops oversized, malformed and schema-breaking messages and keeps running', async () => {
    await rogue.publish(new Uint8Array(2 * 1024 * 1024).fill(0x7b))
    await rogue.publish('{"v":1,"r":[{"b":')
    await rogue.publish(new Uint8Array([0xff, 0xfe, 0x00, 0x01]))
    await rogue.publish(envelope({ b: 'x', s: 'y' }))
    await rogue.publish(JSON.stringify({ v: 2, r: [] }))
    await waitFor('every bad message to be counted', async () => {
      return (
        (await dropped('oversize')) >= 1 && (await dropped('decode')) >= 2 && (await dropped('schema')) >= 2
      )
    })

    // Still serving, still merging: a real write from the witness arrives.
    await witness.daemon.state.put('test/after-attack', 'fine')
    await waitFor('a good record after the attack', () => victim.daemon.state.get('test/after-attack'))
    const status = await fetch(`${victim.daemon.api.httpUrl}/v1/status`)
    expect(status.status).toBe(200)
  })

  it('refuses a deflated message that inflates past the size bound, or is no deflate stream at all', async () => {
    const oversizeBefore = await dropped('oversize')
    const decodeBefore = await dropped('decode')
    // 64 MiB of `{` deflates to ~64 KiB: well under the bound on the wire, far over it once inflated.
    await rogue.publish(deflated(new Uint8Array(64 * 1024 * 1024).fill(0x7b)))
    await rogue.publish(new Uint8Array([DEFLATED_MARKER, 0xde, 0xad, 0xbe, 0xef]))
    await waitFor('both to be counted', async () => {
      return (await dropped('oversize')) > oversizeBefore && (await dropped('decode')) > decodeBefore
    })
    const status = await fetch(`${victim.daemon.api.httpUrl}/v1/status`)
    expect(status.status).toBe(200)
  })

  it('accepts a deflated batch of records from a member', async () => {
    const { signer, peerId } = rogue.identity
    const records = Array.from({ length: 50 }, (_, i) =>
      toWire(
        encodeRecord(signer, `test/deflated-${i}`, { i }, { wall: Date.now(), counter: i, node: peerId }),
      ),
    )
    await rogue.publish(deflated(envelope(...records)))
    await waitFor('all 50 records', () =>
      records.every(
        (_, i) => (victim.daemon.state.get(`test/deflated-${i}`)?.value as { i: number })?.i === i,
      ),
    )
  })

  it('drops records stamped far in the future without penalising their kind for good', async () => {
    const { signer, peerId } = rogue.identity
    const future = encodeRecord(signer, 'test/from-the-future', 'x', {
      wall: Date.now() + 10 * 60_000,
      counter: 0,
      node: peerId,
    })
    await rogue.publish(envelope(toWire(future)))
    await waitFor('the future record to be counted', async () => (await dropped('skew')) >= 1)
    expect(victim.daemon.state.get('test/from-the-future')).toBeUndefined()
  })

  it('accepts a well-formed record from the same member, so the checks are not blanket refusals', async () => {
    const { signer, peerId } = rogue.identity
    const fine = encodeRecord(signer, 'test/honest', 'hello', { wall: Date.now(), counter: 0, node: peerId })
    await rogue.publish(envelope(toWire(fine)))
    await waitFor('the honest record', () => victim.daemon.state.get('test/honest')?.value === 'hello')
  })
})
