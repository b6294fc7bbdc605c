import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorView } from '../../src/coordinator/index.js'
import { ShoalError } from '../../src/errors.js'
import { actingCount, agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startCluster, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { sleep, waitFor } from '../helpers/wait.js'

describe('coordinator election among five in-process nodes', () => {
  let nodes: TestNode[] = []
  beforeAll(async () => {
    nodes = await startCluster(5, 'c')
  })
  afterAll(async () => destroyNodes(nodes))

  it('all five agree on one holder, and only that one acts', async () => {
    const agreed = await agreedCoordinator(nodes)
    expect(agreed.term).toBeGreaterThanOrEqual(1)
    // Agreement holds: nobody else claims while the holder renews.
    await sleep(4_000)
    const again = await agreedCoordinator(nodes)
    expect(again).toMatchObject({ holder: agreed.holder, term: agreed.term })
    expect(actingCount(nodes)).toBe(1)
  })

  it('shows the coordinator in node views and metrics', async () => {
    const { holder, node } = await agreedCoordinator(nodes)
    for (const each of nodes) {
      const marked = each.daemon.membership.nodes().filter((view) => view.coordinator)
      expect(marked.map((view) => view.id)).toEqual([holder])
    }
    expect(await metric(node, 'shoal_coordinator_is_holder')).toBe(1)
    expect(await metric(nodes.find((n) => n !== node)!, 'shoal_coordinator_is_holder')).toBe(0)
    expect(await metric(node, 'shoal_coordinator_term')).toBeGreaterThanOrEqual(1)
  })

  it('writes as coordinator only under the term it holds', async () => {
    const { term, node } = await agreedCoordinator(nodes)
    await node.daemon.coordinator.writeAsCoordinator(term, [{ key: 'work/ok', value: { n: 1 } }])
    await waitFor('the fenced write everywhere', () => nodes.every((n) => n.daemon.state.get('work/ok')))
    expect(nodes.every((n) => n.daemon.state.get('work/ok')!.term === term)).toBe(true)

    const stale = node.daemon.coordinator.writeAsCoordinator(term - 1, [{ key: 'work/old', value: 1 }])
    await expect(stale).rejects.toMatchObject({ code: 'SHOAL_STALE_TERM' })
    const other = nodes.find((n) => n !== node)!
    const notHolder = other.daemon.coordinator.writeAsCoordinator(term, [{ key: 'work/no', value: 1 }])
    await expect(notHolder).rejects.toMatchObject({ code: 'SHOAL_NOT_COORDINATOR' })
    // Bypassing the coordinator does not help: the state's fence refuses a fenced write under a term the
    // writer does not hold, and one without any term.
    await expect(other.daemon.state.write([{ key: 'work/sneaky', value: 1, term }])).rejects.toBeInstanceOf(
      ShoalError,
    )
    await expect(other.daemon.state.write([{ key: 'work/unfenced', value: 1 }])).rejects.toMatchObject({
      code: 'SHOAL_STALE_TERM',
    })
  })

  it('a clean stop releases the lease and the others elect at once, with a higher term', async () => {
    const before = await agreedCoordinator(nodes)
    const rest = nodes.filter((n) => n !== before.node)
    const events = await collectCoordinatorEvents(rest[0]!)
    const stoppedAt = Date.now()
    await before.node.stop()
    const after = await agreedCoordinator(rest, 'the remaining four to agree on a new coordinator')
    expect(after.holder).not.toBe(before.holder)
    expect(after.term).toBeGreaterThan(before.term)
    // The change reached the event stream, with the new holder and term.
    await waitFor('a coordinator event naming the new holder', () =>
      events.seen.some((view) => view.holder === after.holder && view.term === after.term),
    )
    events.close()
    // Released, not waited out: well under one lease (3 s) plus the claim stagger.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000)
  })
})

/** Reads `coordinator` events from a node's /v1/events stream until closed. */
async function collectCoordinatorEvents(node: TestNode): Promise<{ seen: CoordinatorView[]; close(): void }> {
  const controller = new AbortController()
  const seen: CoordinatorView[] = []
  const res = await fetch(`${node.daemon.api.httpUrl}/v1/events?kinds=none`, { signal: controller.signal })
  void (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      for (const match of buffer.matchAll(/event: coordinator\ndata: (.*)\n\n/g)) {
        seen.push(JSON.parse(match[1]!) as CoordinatorView)
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2)
    }
  })().catch(() => undefined)
  return { seen, close: () => controller.abort() }
}

describe('a node started with --no-coordinator', () => {
  const nodes: TestNode[] = []
  afterAll(async () => destroyNodes(nodes))

  it('never takes the role, even when it is the only node left', async () => {
    const eligible = await startNode({ name: 'yes' })
    nodes.push(eligible)
    const ineligible = await startNode({ name: 'no', join: eligible, coordinator: false })
    nodes.push(ineligible)
    const agreed = await agreedCoordinator(nodes)
    expect(agreed.node).toBe(eligible)
    expect(ineligible.daemon.membership.node(ineligible.daemon.peerId).eligible).toBe(false)
    await eligible.stop()
    await sleep(6_000)
    const view = ineligible.daemon.coordinator.view()
    expect(view.eligible).toBe(false)
    expect(view.role).toBe('follower')
    expect(view.status).toBe('lapsed')
    expect(await metric(ineligible, 'shoal_coordinator_claims_total')).toBe(0)
  })
})
