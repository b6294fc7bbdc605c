import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { sleep, waitFor } from '../helpers/wait.js'

const TEN_MINUTES_MS = 10 * 60_000

describe('a coordinator whose clock jumps ten minutes ahead', () => {
  const nodes: TestNode[] = []
  const offsets = new Map<TestNode, { ms: number }>()

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const offset = { ms: 0 }
      const node = await startNode({
        name: `skew${i}`,
        join: nodes[0],
        tuning: { clock: { now: () => Date.now() + offset.ms } },
      })
      nodes.push(node)
      offsets.set(node, offset)
    }
  })
  afterAll(async () => destroyNodes(nodes))

  it('does not keep the role: its peers see its clock in their probes and elect another, and it stands down', async () => {
    const before = await agreedCoordinator(nodes)
    offsets.get(before.node)!.ms = TEN_MINUTES_MS
    const others = nodes.filter((node) => node !== before.node)

    const after = await agreedCoordinator(others, 'the other two to elect a coordinator with a sane clock')
    expect(after.holder).not.toBe(before.holder)
    expect(after.term).toBeGreaterThan(before.term)

    // For several leases, nobody names the skewed node again, and it does not act as coordinator.
    for (let i = 0; i < 12; i++) {
      await sleep(500)
      expect(before.node.daemon.coordinator.isHolder()).toBe(false)
      for (const node of others) expect(node.daemon.coordinator.view().holder).toBe(after.holder)
    }
    // It accepts its peers' (to it, old) records, so it knows who coordinates; it knows its clock is off.
    const skewedView = before.node.daemon.coordinator.view()
    expect(skewedView.holder).toBe(after.holder)
    expect(skewedView.eligible).toBe(false)
    // Anything it writes now is dropped by its peers as stamped too far ahead, and counted.
    await before.node.daemon.state.put('test/from-the-future', { ahead: TEN_MINUTES_MS })
    await waitFor(
      'its record to be refused',
      async () =>
        (await metric(others[0]!, 'shoal_records_dropped_total', { reason: 'skew', source: 'gossip' })) > 0,
    )
    expect(others[0]!.daemon.state.get('test/from-the-future')).toBeUndefined()
    const dropped = await metric(others[0]!, 'shoal_records_dropped_total', {
      reason: 'skew',
      source: 'gossip',
    })
    expect(dropped).toBeGreaterThan(0)
  })
})
