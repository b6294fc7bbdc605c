// Load and free memory are not gossiped: an idle mesh writes no node records while they drift, and node views ask
// each node for them over the usage protocol (falling back to the record's figures for a node that cannot answer).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeView } from '../../src/api/types.js'
import type { Resources } from '../../src/membership/index.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { metricSamples } from '../helpers/metrics.js'
import { waitFor } from '../helpers/wait.js'

const GiB = 1024 ** 3

/** A node's resources as a test sets them: each sample reads the current figures. */
class FakeResources {
  samples = 0
  current: Resources = {
    cpus: 2,
    memoryTotal: 8 * GiB,
    memoryFree: 4 * GiB,
    diskTotal: 100 * GiB,
    diskFree: 50 * GiB,
    gpus: 0,
    load: [0.5, 0.5, 0.5],
  }

  readonly sample = async (): Promise<Resources> => {
    this.samples++
    return structuredClone(this.current)
  }
}

async function recordWrites(node: TestNode): Promise<number> {
  const samples = await metricSamples(node.daemon.api.httpUrl, 'shoal_node_record_writes_total')
  expect(samples).toHaveLength(1)
  return samples[0]!
}

async function nodesOf(node: TestNode, query = ''): Promise<NodeView[]> {
  const res = await fetch(`${node.daemon.api.httpUrl}/v1/nodes${query}`)
  expect(res.status).toBe(200)
  return (await res.json()) as NodeView[]
}

describe('live usage', () => {
  const fake = new FakeResources()
  let a: TestNode
  let b: TestNode

  beforeAll(async () => {
    a = await startNode({ name: 'usage-a' })
    // b samples every 50 ms and may write drift after 100 ms: were load or memory news, it would write at once.
    b = await startNode({
      name: 'usage-b',
      join: a,
      tuning: {
        membership: {
          sampleResources: fake.sample,
          resourceSampleIntervalMs: 50,
          resourceWriteMinMs: 100,
          usageSpacingMs: 1,
        },
      },
    })
    await waitFor('a to see b alive', () => a.daemon.membership.livenessOf(b.daemon.peerId) === 'alive')
  })
  afterAll(() => destroyNodes([a, b]))

  it('writes no node record while load and free memory drift, and writes free disk that moved', async () => {
    const before = await recordWrites(b)
    const recordBefore = a.daemon.membership.describe(b.daemon.peerId)!
    // Forty samples, each far from the last: load swinging between 0 and 8, free memory between 0 and 8 GiB.
    const start = fake.samples
    let swing = 0
    await waitFor(
      'forty drifting samples on b',
      () => {
        swing++
        fake.current = {
          ...fake.current,
          load: [swing % 2 === 0 ? 0 : 8, 4, 2],
          memoryFree: (swing % 2) * 8 * GiB,
        }
        return fake.samples - start >= 40
      },
      { intervalMs: 25 },
    )
    expect(await recordWrites(b)).toBe(before)
    expect(a.daemon.membership.describe(b.daemon.peerId)).toEqual(recordBefore)

    // The same node, under the same timings, writes free disk that moved by 30 % of the total: the test can see
    // a write when there is one.
    fake.current = { ...fake.current, diskFree: 20 * GiB }
    await waitFor(
      'a to hold b’s record with the new free disk',
      () => a.daemon.membership.describe(b.daemon.peerId)?.resources.diskFree === 20 * GiB,
    )
    expect(await recordWrites(b)).toBe(before + 1)
  })

  it('shows another node’s usage as it answers now, not as its record says', async () => {
    fake.current = { ...fake.current, load: [7.25, 3, 1], memoryFree: 3 * GiB, diskFree: 21 * GiB }
    const record = a.daemon.membership.describe(b.daemon.peerId)!
    expect(record.resources.load[0]).not.toBe(7.25)
    // b samples every 50 ms: its next answer carries the figures above.
    const seen = await waitFor('a to list b’s live load', async () => {
      const node = (await nodesOf(a)).find((view) => view.id === b.daemon.peerId)
      return node?.resources.load[0] === 7.25 ? node : undefined
    })
    expect(seen.usage).toBe('live')
    expect(seen.resources).toMatchObject({ memoryFree: 3 * GiB, diskFree: 21 * GiB, cpus: 2 })
    expect(Date.parse(seen.usageAt)).toBeGreaterThan(Date.parse(seen.startedAt))

    const one = (await (
      await fetch(`${a.daemon.api.httpUrl}/v1/nodes/${b.daemon.peerId}`)
    ).json()) as NodeView
    expect(one).toMatchObject({ usage: 'live', resources: { load: [7.25, 3, 1] } })
    const self = (await nodesOf(a)).find((view) => view.self)!
    expect(self.usage).toBe('live')
  })

  it('falls back to the record’s figures, saying so, for a node that is not there to answer', async () => {
    await b.stop()
    await waitFor('a to see b left', () => a.daemon.membership.livenessOf(b.daemon.peerId) === 'left')
    const left = (await nodesOf(a, '?all=1')).find((view) => view.id === b.daemon.peerId)!
    const record = a.daemon.membership.describe(b.daemon.peerId)!
    expect(left.usage).toBe('record')
    expect(left.resources.load).toEqual(record.resources.load)
    expect(left.resources.memoryFree).toBe(record.resources.memoryFree)
  })
})
