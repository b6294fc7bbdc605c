import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyNodes, startCluster, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { waitFor } from '../helpers/wait.js'

describe('replicated state across ten in-process nodes on 127.0.0.1', () => {
  let nodes: TestNode[] = []
  const late: TestNode[] = []

  beforeAll(async () => {
    nodes = await startCluster(10)
  })
  afterAll(async () => destroyNodes([...nodes, ...late]))

  it('every node learns every node', async () => {
    await waitFor('all ten nodes to see ten alive nodes', () =>
      nodes.every((node) => node.daemon.membership.nodes().filter((n) => n.state === 'alive').length === 10),
    )
  })

  it('a write on one node becomes visible on all', async () => {
    await nodes[3]!.daemon.state.put('test/greeting', { hello: 'mesh' })
    await waitFor('the write to reach all nodes', () =>
      nodes.every(
        (node) => (node.daemon.state.get('test/greeting')?.value as { hello?: string })?.hello === 'mesh',
      ),
    )
  })

  it('concurrent writes to one key from many nodes converge to one winner everywhere', async () => {
    await Promise.all(nodes.map((node, i) => node.daemon.state.put('test/contended', { writer: i })))
    const winner = await waitFor('one value for test/contended everywhere', () => {
      const bodies = new Set(nodes.map((node) => node.daemon.state.get('test/contended')?.body))
      return bodies.size === 1 && !bodies.has(undefined) ? [...bodies][0] : undefined
    })
    expect(JSON.parse(winner!).v).toHaveProperty('writer')
  })

  it('a deletion (tombstone) replicates and wins over the value it deleted', async () => {
    await nodes[1]!.daemon.state.put('test/doomed', 1)
    await waitFor('the value everywhere', () => nodes.every((node) => node.daemon.state.get('test/doomed')))
    await nodes[7]!.daemon.state.remove('test/doomed')
    await waitFor('the tombstone everywhere', () =>
      nodes.every((node) => node.daemon.state.get('test/doomed')?.deleted === true),
    )
    expect(nodes[0]!.daemon.state.list('test').some((record) => record.key === 'test/doomed')).toBe(false)
  })

  it('a node that joins late catches up on history by anti-entropy sync', async () => {
    await nodes[0]!.daemon.state.write(
      Array.from({ length: 300 }, (_, i) => ({ key: `test/history-${i}`, value: { i } })),
    )
    await waitFor('history on every node', () =>
      nodes.every((node) => node.daemon.state.get('test/history-299')),
    )

    const newcomer = await startNode({ name: 'late', join: nodes[5]! })
    late.push(newcomer)
    await waitFor('the newcomer to hold all 300 history records', () =>
      Array.from({ length: 300 }, (_, i) => newcomer.daemon.state.get(`test/history-${i}`)).every(Boolean),
    )
    // Gossip never replays the past, so these can only have come by sync.
    expect(
      await metric(newcomer, 'shoal_sync_records_total', { direction: 'received' }),
    ).toBeGreaterThanOrEqual(300)
    expect(
      await metric(newcomer, 'shoal_sync_rounds_total', { role: 'initiator', result: 'ok' }),
    ).toBeGreaterThanOrEqual(1)
  })
})
