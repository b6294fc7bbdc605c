// A service across a partition: the side that loses a node runs its slot again (at least once), and after the heal one copy per slot is left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { heal, partition } from '../helpers/partition.js'
import { instanceProcesses } from '../helpers/services.js'
import { waitFor } from '../helpers/wait.js'

/** Slot → how many live processes run it. */
async function copiesPerSlot(service: string): Promise<Map<string, number>> {
  const copies = new Map<string, number>()
  for (const slot of (await instanceProcesses(service)).values())
    copies.set(slot, (copies.get(slot) ?? 0) + 1)
  return copies
}

describe('a service across a partition', () => {
  let nodes: TestNode[] = []
  beforeAll(async () => {
    nodes = await startCluster(3, 'sp')
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(nodes)
  })

  it('runs the cut-off slot on both sides, then settles on one copy per slot after the heal', async () => {
    const before = await agreedCoordinator(nodes)
    await before.node.daemon.services.add([{ name: 'split', command: ['sleep', '600'], replicas: 3 }])
    await waitFor('3 instances on 3 nodes', () => before.node.daemon.services.status('split').ready === 3)
    const cut = nodes.find((node) => node !== before.node)!
    const rest = nodes.filter((node) => node !== cut)
    const slot = before.node.daemon.services
      .status('split')
      .instances.find((instance) => instance.node === cut.daemon.peerId)!.slot

    await partition([cut], rest)
    // The side with the coordinator declares the node dead and runs its slot again; the node cut off, which
    // cannot know, keeps its copy: both run it.
    await waitFor(
      'the slot running on both sides',
      async () => {
        const view = before.node.daemon.services.status('split')
        const moved = view.instances[slot]!.node !== cut.daemon.peerId && view.ready === 3
        return moved && (await copiesPerSlot('split')).get(String(slot)) === 2
      },
      { timeoutMs: 30_000 },
    )

    await heal(nodes)
    await agreedCoordinator(nodes, 'one coordinator after the heal', 30_000)
    const settled = await waitFor(
      'one copy per slot, 3 ready on every node',
      async () => {
        const copies = await copiesPerSlot('split')
        const one = copies.size === 3 && [...copies.values()].every((count) => count === 1)
        const ready = nodes.every((node) => node.daemon.services.status('split').ready === 3)
        return one && ready ? copies : undefined
      },
      { timeoutMs: 60_000 },
    )
    expect([...settled.keys()].sort()).toEqual(['0', '1', '2'])
    await before.node.daemon.services.remove('split')
    await waitFor('nothing left running', async () => (await copiesPerSlot('split')).size === 0)
  }, 150_000)
})
