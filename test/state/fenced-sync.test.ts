// One sync round that brings a newer coordinator lease and work written under it takes both (the work is judged last).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { heal, partition } from '../helpers/partition.js'
import { sleep, waitFor } from '../helpers/wait.js'

let nodes: TestNode[] = []
beforeAll(async () => {
  // No periodic rounds within the test: after the heal, one round on the new connection is all there is.
  nodes = await startCluster(2, 'fs', { state: { syncIntervalMs: 600_000 } })
})
afterAll(async () => destroyNodes(nodes))

it('takes the work of a coordinator elected during a partition from the same round as its lease', async () => {
  const before = await agreedCoordinator(nodes)
  const other = nodes.find((node) => node !== before.node)!
  await partition([before.node], [other])
  // The side without the holder elects under the next term and writes work under it; the holder's side
  // knows neither the term nor the work.
  const elected = await agreedCoordinator([other], 'the cut-off side to elect its own coordinator', 30_000)
  expect(elected.term).toBeGreaterThan(before.term)
  await elected.node.daemon.coordinator.writeAsCoordinator(elected.term, [
    { key: 'work/under-the-new-term', value: { by: 'new' } },
  ])
  // Past the window in which a publish that reached nobody is sent again: only sync can carry it now.
  await sleep(7_000)
  expect(before.node.daemon.state.get('work/under-the-new-term')).toBeUndefined()
  expect(before.node.daemon.coordinator.term()).toBe(before.term)

  await heal(nodes)
  await waitFor('the work written under the new term to reach the other side', () =>
    before.node.daemon.state.get('work/under-the-new-term'),
  )
  expect(before.node.daemon.coordinator.term()).toBeGreaterThanOrEqual(elected.term)
  // Taken the first time it came: never refused for a term newer than the lease this side knew.
  for (const reason of ['stale-term', 'unknown-term']) {
    expect(await metric(before.node, 'shoal_records_dropped_total', { reason, source: 'sync' })).toBe(0)
  }
})
