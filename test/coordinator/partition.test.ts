import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { kindOf, stateConstants, versionOf } from '../../src/state/index.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startCluster, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { heal, partition } from '../helpers/partition.js'
import { waitFor } from '../helpers/wait.js'

/** Key and version of every record except heartbeats and the lease, as one comparable string. */
function settledRecords(node: TestNode): string {
  return [...node.daemon.state.all()]
    .filter((record) => kindOf(record.key) !== 'node' && kindOf(record.key) !== 'lease')
    .map((record) => `${record.key}@${versionOf(record).join(':')}`)
    .sort()
    .join('\n')
}

describe('a partition between two groups of in-process nodes', () => {
  let nodes: TestNode[] = []
  beforeAll(async () => {
    nodes = await startCluster(5, 'p')
  })
  afterAll(async () => destroyNodes(nodes))

  it('lets each side coordinate; after the heal one holder with the highest term remains, and stale work is refused', {
    timeout: 150_000,
  }, async () => {
    const before = await agreedCoordinator(nodes)
    const others = nodes.filter((node) => node !== before.node)
    const minority = [before.node, others[0]!]
    const majority = others.slice(1)

    await partition(minority, majority)
    // The side without the holder sees the lease lapse and elects under the next term; the holder's side
    // keeps its holder, which goes on renewing (it cannot know it was cut off).
    const elected = await agreedCoordinator(majority, 'the cut-off side to elect its own coordinator')
    expect(elected.term).toBe(before.term + 1)
    const minorityView = await agreedCoordinator(minority, 'the holder’s side to keep its coordinator')
    expect(minorityView).toMatchObject({ holder: before.holder, term: before.term })

    // Both coordinators act on their side: the old holder's work is stamped after the new term began.
    await before.node.daemon.coordinator.writeAsCoordinator(before.term, [
      { key: 'work/from-old-term', value: { by: 'old' } },
      { key: 'work/shared', value: { by: 'old' } },
    ])
    await elected.node.daemon.coordinator.writeAsCoordinator(elected.term, [
      { key: 'work/from-new-term', value: { by: 'new' } },
    ])
    await waitFor('the old term’s work on its side', () =>
      minority[1]!.daemon.state.get('work/from-old-term'),
    )
    // Withdrawn records are announced, so what was built on them (a job's view, a running copy) is looked at again.
    const withdrawn: string[] = []
    minority[1]!.daemon.state.watchAll(({ record, previous }) => {
      if (record === undefined && previous !== undefined) withdrawn.push(previous.key)
    })

    const healedAt = Date.now()
    await heal(nodes)
    const after = await agreedCoordinator(nodes, 'all five to agree after the heal')
    const singleAfterMs = Date.now() - healedAt
    // The cut-off side's holder stays, or, when the two sides' death verdicts about each other reach a node before
    // the refutations do, one more election runs: either way one holder, under a term above both sides'.
    expect(after.term).toBeGreaterThanOrEqual(elected.term)
    if (after.term === elected.term) expect(after.holder).toBe(elected.holder)
    // The old holder no longer acts under its old term (it may have won the extra election, under a new one).
    if (after.holder === before.holder) expect(after.term).toBeGreaterThan(elected.term)
    expect(before.node.daemon.coordinator.isHolder()).toBe(after.holder === before.holder)

    // The records converge: the new term's work everywhere, the stale term's work nowhere. Gossip lost at the
    // heal is repaired by anti-entropy, which every node runs with a peer every SYNC_INTERVAL_MS (30 s).
    const convergeMs = stateConstants.SYNC_INTERVAL_MS + 15_000
    await waitFor(
      'the records to converge',
      () =>
        nodes.every(
          (node) =>
            node.daemon.state.get('work/from-new-term') !== undefined &&
            node.daemon.state.get('work/from-old-term') === undefined &&
            node.daemon.state.get('work/shared') === undefined,
        ),
      { timeoutMs: convergeMs },
    )
    // Every record but heartbeats and lease renewals (which change each second by design, and whose agreement
    // is checked above) is the same version everywhere.
    await waitFor(
      'the same records, at the same versions, on all five nodes',
      () => new Set(nodes.map((node) => settledRecords(node))).size === 1,
      { timeoutMs: convergeMs },
    )
    // Announced once the removal is durable, which may be a moment after it left memory.
    await waitFor('the withdrawn records to be announced', () => withdrawn.length >= 2)
    expect(withdrawn.sort()).toEqual(['work/from-old-term', 'work/shared'])
    let refused = 0
    for (const node of nodes) {
      refused +=
        (await metric(node, 'shoal_records_dropped_total', { reason: 'stale-term', source: 'gossip' })) +
        (await metric(node, 'shoal_records_dropped_total', { reason: 'stale-term', source: 'sync' })) +
        (await metric(node, 'shoal_records_dropped_total', { reason: 'stale-term', source: 'refence' }))
    }
    expect(refused).toBeGreaterThan(0)
    // Superseded by the cut-off side's term (and once more if it then lost a contested extra election).
    expect(
      await metric(before.node, 'shoal_coordinator_step_downs_total', { reason: 'superseded' }),
    ).toBeGreaterThanOrEqual(1)
    console.log(
      `single coordinator ${singleAfterMs} ms after the heal, term ${after.term} (cut-off side ${elected.term})`,
    )
  })
})
