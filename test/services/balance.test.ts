// Balancing through in-process daemons: a node that joins receives instances, one move at a time, and nothing flaps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startCluster, startNode, type TestNode } from '../helpers/in-process.js'
import { sleep, waitFor } from '../helpers/wait.js'

describe('service balancing', () => {
  let nodes: TestNode[]

  beforeAll(async () => {
    nodes = await startCluster(2, 'bal')
    await agreedCoordinator(nodes)
  }, 60_000)
  afterAll(async () => {
    await destroyNodes(nodes ?? [])
  })

  it('moves instances to a joining node one at a time, then holds still for 60 s', async () => {
    const services = nodes[0]!.daemon.services
    await services.add([{ name: 'spread', command: ['sleep', '1000'], replicas: 6 }])
    await waitFor('6 running on 2 nodes', () => services.status('spread').ready === 6)

    // Every placement the coordinator writes, in order: the slots' nodes each time.
    const placements: Array<Array<string | null>> = []
    const watchAt = (await agreedCoordinator(nodes)).node.daemon.services.book
    const unwatch = watchAt.placements.watch(({ value }) => {
      if (value !== undefined) placements.push(value.slots.map((slot) => slot.node))
    })
    const joined = await startNode({ name: 'bal2', join: nodes[0]! })
    nodes.push(joined)
    const third = joined.daemon.peerId
    await waitFor(
      'the joining node to run 2 of the 6',
      () => {
        const view = services.status('spread')
        const there = view.instances.filter((i) => i.node === third && i.state === 'running').length
        return view.ready === 6 && there === 2
      },
      { timeoutMs: 60_000 },
    )
    const settled = placements.length
    // Consecutive placements differ in at most one slot: never two instances of the service moving at once.
    for (let i = 1; i < placements.length; i++) {
      const moved = placements[i]!.filter((node, slot) => node !== placements[i - 1]![slot]).length
      expect(moved).toBeLessThanOrEqual(1)
    }
    await sleep(60_000)
    unwatch()
    expect(placements.length).toBe(settled)
    const counts = new Map<string, number>()
    for (const instance of services.status('spread').instances) {
      counts.set(instance.node!, (counts.get(instance.node!) ?? 0) + 1)
    }
    expect([...counts.values()].sort()).toEqual([2, 2, 2])
  }, 150_000)
})
