// A member flooding the mesh with well-formed writes: a per-publisher rate bound, and a gossipsub penalty.
import { deflateRawSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GOSSIP_RECORDS_BURST } from '../../src/state/constants.js'
import { DEFLATED_MARKER } from '../../src/state/envelope.js'
import { encodeRecord, toWire } from '../../src/state/wire.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { type RoguePeer, startRogueAgainst } from '../helpers/rogue-peer.js'
import { waitFor } from '../helpers/wait.js'

const MESSAGES = 12
const RECORDS_PER_MESSAGE = 1_000

describe('a member flooding the mesh with writes', () => {
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

  it('takes its burst and what the rate refills, drops the rest as rate, penalises the publisher, and still hears others', async () => {
    const { signer, peerId } = rogue.identity
    let counter = 0
    const message = (m: number): Uint8Array => {
      const records = Array.from({ length: RECORDS_PER_MESSAGE }, (_, i) =>
        JSON.stringify(
          toWire(
            encodeRecord(signer, `test/flood-${m}-${i}`, i, {
              wall: Date.now(),
              counter: counter++,
              node: peerId,
            }),
          ),
        ),
      )
      const json = Buffer.from(`{"v":1,"r":[${records.join(',')}]}`)
      return new Uint8Array([DEFLATED_MARKER, ...deflateRawSync(json)])
    }
    // Built first, so the flood arrives as fast as the rogue can send it.
    const flood = Array.from({ length: MESSAGES }, (_, m) => message(m))
    for (const data of flood) await rogue.publish(data)

    const sent = MESSAGES * RECORDS_PER_MESSAGE
    const rateDrops = () =>
      metric(victim, 'shoal_records_dropped_total', { reason: 'rate', source: 'gossip' })
    const taken = () => [...victim.daemon.state.all()].filter((record) => record.origin === peerId).length
    await waitFor('every message to be judged', async () => (await rateDrops()) + taken() >= sent)
    // The burst, plus what the sustained rate refilled while the flood arrived (a few seconds at most).
    expect(taken()).toBeGreaterThanOrEqual(GOSSIP_RECORDS_BURST)
    expect(taken()).toBeLessThan(sent)
    expect(await rateDrops()).toBeGreaterThanOrEqual(RECORDS_PER_MESSAGE)
    expect(
      await metric(victim, 'shoal_gossip_messages_dropped_total', { reason: 'rate' }),
    ).toBeGreaterThanOrEqual(1)
    // Rejected, not ignored: gossipsub lowers the publisher's score (it is left out of gossip, then ignored).
    expect(victim.daemon.mesh.gossipScore(peerId)).toBeLessThan(0)
    expect(victim.daemon.mesh.gossipScore(witness.daemon.peerId)).toBeGreaterThanOrEqual(0)

    await witness.daemon.state.put('test/during-the-flood', 'heard')
    await waitFor('an honest write after the flood', () => victim.daemon.state.get('test/during-the-flood'))
  })
})
