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
import { sleep, waitFor } from '../helpers/wait.js'

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

/** StateGossip over a scripted mesh, with a state whose current records the test controls. */
async function scriptedGossip(recipients: number[]) {
  const me = await newIdentity()
  const current = new Map<string, StateRecord>()
  const state = { get: (key: string) => current.get(key) } as unknown as ReplicatedState
  const { mesh, published } = scriptedMesh(recipients)
  const metrics = createStateMetrics(
    new Registry(),
    () => new Map(),
    () => 0,
  )
  const gossip = new StateGossip(mesh, state, metrics, pino({ level: 'silent' }))
  await gossip.start()
  /** Writes a record as this node: it becomes the current one for its key. */
  const write = (key: string, value: unknown, wall = Date.now()): StateRecord => {
    const record = encodeRecord(me.signer, key, value, { wall, counter: 0, node: me.peerId })
    current.set(key, record)
    return record
  }
  return { gossip, published, write }
}

describe('state gossip published before any peer subscribed', () => {
  it('is sent again shortly, while the record is still current', async () => {
    const { gossip, published, write } = await scriptedGossip([0, 0, 3])
    gossip.publish([write('test/early', { n: 1 })])
    await waitFor('two retries after the first publish reached nobody', () => published.length === 3, {
      timeoutMs: 5_000,
    })
    expect(published.every((text) => text.includes('test/early'))).toBe(true)
    await sleep(2_000)
    expect(published).toHaveLength(3)
    await gossip.stop()
  })

  it('is not sent again once a newer write replaced it', async () => {
    const { gossip, published, write } = await scriptedGossip([0])
    gossip.publish([write('test/replaced', 1)])
    await waitFor('the first publish', () => published.length === 1)
    write('test/replaced', 2, Date.now() + 1)
    await sleep(1_500)
    expect(published).toHaveLength(1)
    await gossip.stop()
  })
})
