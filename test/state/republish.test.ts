import pino from 'pino'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import type { Mesh } from '../../src/mesh/index.js'
import { StateGossip } from '../../src/state/gossip.js'
import { createStateMetrics } from '../../src/state/metrics.js'
import type { StateRecord } from '../../src/state/record.js'
import type { ReplicatedState } from '../../src/state/replicated-state.js'
import { encodeRecord } from '../../src/state/wire.js'
import { newIdentity } from '../helpers/keys.js'
import { waitFor } from '../helpers/wait.js'

/**
 * The moment between a connection opening and gossipsub learning the peer's subscription cannot be produced on
 * demand with real nodes, so this drives StateGossip with a mesh that reports whom each publish reached.
 */
function scriptedMesh(recipients: number[]): { mesh: Mesh; published: string[] } {
  const published: string[] = []
  const mesh = {
    subscribe: () => undefined,
    connectedPeers: () => ['12D3KooWpeer'],
    publish: async (_topic: string, data: Uint8Array) => {
      published.push(new TextDecoder().decode(data))
      return recipients.shift() ?? 1
    },
  } as unknown as Mesh
  return { mesh, published }
}

describe('state gossip published before any peer subscribed', () => {
  it('is sent again shortly, while the record is still current', async () => {
    const me = await newIdentity()
    const record = encodeRecord(
      me.signer,
      'test/early',
      { n: 1 },
      { wall: Date.now(), counter: 0, node: me.peerId },
    )
    const current = new Map<string, StateRecord>([[record.key, record]])
    const state = { get: (key: string) => current.get(key) } as unknown as ReplicatedState
    const { mesh, published } = scriptedMesh([0, 0, 3])
    const gossip = new StateGossip(
      mesh,
      state,
      createStateMetrics(new Registry(), () => new Map()),
      pino({ level: 'silent' }),
    )
    await gossip.start()
    gossip.publish([record])
    await waitFor('two retries after the first publish reached nobody', () => published.length === 3, {
      timeoutMs: 5_000,
    })
    expect(published.every((text) => text.includes('test/early'))).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    expect(published).toHaveLength(3)
    await gossip.stop()
  })

  it('is not sent again once a newer write replaced it', async () => {
    const me = await newIdentity()
    const old = encodeRecord(me.signer, 'test/replaced', 1, { wall: Date.now(), counter: 0, node: me.peerId })
    const current = new Map<string, StateRecord>([[old.key, old]])
    const state = { get: (key: string) => current.get(key) } as unknown as ReplicatedState
    const { mesh, published } = scriptedMesh([0])
    const gossip = new StateGossip(
      mesh,
      state,
      createStateMetrics(new Registry(), () => new Map()),
      pino({ level: 'silent' }),
    )
    await gossip.start()
    gossip.publish([old])
    await waitFor('the first publish', () => published.length === 1)
    current.set(
      old.key,
      encodeRecord(me.signer, 'test/replaced', 2, { wall: Date.now() + 1, counter: 0, node: me.peerId }),
    )
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(published).toHaveLength(1)
    await gossip.stop()
  })
})
