// After a heal, what one side wrote reaches the other by the sync round a new connection starts, retried if it fails.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { SYNC_PROTOCOL } from '../../src/state/constants.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { heal, partition } from '../helpers/partition.js'
import { sleep, waitFor } from '../helpers/wait.js'

let nodes: TestNode[] = []
beforeAll(async () => {
  // No periodic rounds within the test: only a new connection's round can carry the record across.
  nodes = await startCluster(3, 'cs', { state: { syncIntervalMs: 600_000 } })
  await waitFor('all three connected', () =>
    nodes.every((node) => node.daemon.mesh.connectedPeers().length === 2),
  )
})
afterAll(async () => destroyNodes(nodes))

it('carries a record written during a partition across the heal, though the first round on each new connection fails', async () => {
  const [a, c, b] = nodes as [TestNode, TestNode, TestNode]
  await partition([a, c], [b])
  // Written on one side: gossip reaches c, so nothing is left to publish again, and b never hears of it.
  await a.daemon.state.put('test/during-partition', { by: 'a' })
  await waitFor('c to have it', () => c.daemon.state.get('test/during-partition'))
  // Past gossipsub's window for telling newly met peers what it has seen.
  await sleep(4_000)
  expect(b.daemon.state.get('test/during-partition')).toBeUndefined()

  // The first sync stream each node opens after the heal fails, as one can when a connection is still settling.
  const failed: string[] = []
  for (const node of nodes) {
    const { mesh } = node.daemon
    const openStream = mesh.openStream.bind(mesh)
    const refused = new Set<string>()
    mesh.openStream = async (peer, protocol, options) => {
      if (protocol === SYNC_PROTOCOL && !refused.has(peer)) {
        refused.add(peer)
        failed.push(`${node.name}→${peer.slice(-6)}`)
        throw new Error('injected: the first sync stream to this peer fails')
      }
      return openStream(peer, protocol, options)
    }
  }
  await heal(nodes)
  await waitFor('b to receive the record written during the partition', () =>
    b.daemon.state.get('test/during-partition'),
  )
  expect(failed.length).toBeGreaterThan(0)
})
