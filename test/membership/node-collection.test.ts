// Records of nodes gone for good are removed by the coordinator; a node that comes back writes its own again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inventoryKind } from '../../src/layers/index.js'
import { livenessKind, nodeKind } from '../../src/membership/index.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { heal, partition } from '../helpers/partition.js'
import { waitFor } from '../helpers/wait.js'

const GC_AFTER_MS = 1_500

describe('collection of gone nodes', () => {
  const nodes: TestNode[] = []
  /** Nodes still running (the first test stops one). */
  let running: TestNode[] = []
  const tuning = { nodeCollector: { afterMs: GC_AFTER_MS, intervalMs: 200 } }

  beforeAll(async () => {
    nodes.push(await startNode({ name: 'gc0', tuning }))
    for (let i = 1; i < 4; i++) nodes.push(await startNode({ name: `gc${i}`, join: nodes[0], tuning }))
    await agreedCoordinator(nodes)
    running = [...nodes]
  })
  afterAll(async () => destroyNodes(nodes))

  const holds = (node: TestNode, peer: string): boolean =>
    node.daemon.state.kind(nodeKind).value(peer) !== undefined

  it('removes the node record, inventory and opinions of a node that left, on every node', async () => {
    const { holder } = await agreedCoordinator(nodes)
    const leaver = nodes.find((node) => node.daemon.peerId !== holder && node.name !== 'gc0')!
    const peer = leaver.daemon.peerId
    await waitFor('its inventory everywhere', () =>
      nodes.every((node) => node.daemon.state.kind(inventoryKind).value(peer) !== undefined),
    )
    await leaver.stop()
    running = nodes.filter((node) => node !== leaver)
    const rest = running
    await waitFor(
      'it to be left, then collected, everywhere',
      () => rest.every((node) => !holds(node, peer)),
      {
        timeoutMs: 20_000,
      },
    )
    for (const node of rest) {
      expect(node.daemon.state.kind(inventoryKind).value(peer)).toBeUndefined()
      expect(node.daemon.state.kind(livenessKind).value(peer)).toBeUndefined()
      expect(node.daemon.membership.nodes({ all: true }).map((view) => view.id)).not.toContain(peer)
    }
  })

  it('collects a node declared dead, and a node that comes back writes its record again', async () => {
    const live = running
    const { holder } = await agreedCoordinator(live)
    const cut = live.find((node) => node.daemon.peerId !== holder)!
    const others = live.filter((node) => node !== cut)
    const peer = cut.daemon.peerId
    await partition([cut], others)
    await waitFor(
      'the cut-off node to be declared dead and collected',
      () => others.every((node) => !holds(node, peer)),
      {
        timeoutMs: 30_000,
      },
    )
    await heal(live)
    await waitFor(
      'it to be alive again in every view',
      () => others.every((node) => node.daemon.membership.livenessOf(peer) === 'alive'),
      { timeoutMs: 30_000 },
    )
    for (const node of others) expect(holds(node, peer)).toBe(true)
  })
})
