// Gossip convergence: a write on one node until visible on all, for N in-process nodes, against raw gossipsub delivery.
import { performance } from 'node:perf_hooks'
import { destroyNodes, startCluster, type TestNode } from '../test/helpers/in-process.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import { type Summary, summarize } from './stats.js'

const RAW_TOPIC = '/shoal/bench/raw'

export interface ConvergenceResult {
  nodes: number
  trials: number
  /** Write on one node → the record is merged and durable on every node (ms). */
  shoal: Summary
  /** Same mesh, raw gossipsub publish → delivered to every node, no validation or storage (ms). */
  rawGossip: Summary
  /** shoal p99 ÷ raw gossip p99. */
  p99Ratio: number
}

/** Time from `act()` until `arrivals` reaches `expected`, for each trial. */
async function timeAll(
  trials: number,
  expected: number,
  act: (trial: number) => Promise<void>,
  arrivals: Map<number, number>,
): Promise<number[]> {
  const samples: number[] = []
  for (let trial = 0; trial < trials; trial++) {
    arrivals.set(trial, 0)
    const start = performance.now()
    await act(trial)
    await waitFor(`trial ${trial} to reach all nodes`, () => arrivals.get(trial)! >= expected, {
      timeoutMs: 10_000,
      intervalMs: 1,
    })
    samples.push(performance.now() - start)
    arrivals.delete(trial)
    // Spread trials out so they measure latency, not a queue.
    await sleep(20)
  }
  return samples
}

export async function convergence(nodeCount: number, trials = 200): Promise<ConvergenceResult> {
  const nodes: TestNode[] = await startCluster(nodeCount, `c${nodeCount}-`)
  try {
    await waitFor(
      'every node to see every node alive',
      () =>
        nodes.every(
          (node) => node.daemon.membership.nodes().filter((n) => n.state === 'alive').length === nodeCount,
        ),
      { timeoutMs: 60_000 },
    )
    // Let gossipsub build its mesh (a few heartbeats) before measuring steady state.
    await sleep(5_000)

    const shoalArrivals = new Map<number, number>()
    const rawArrivals = new Map<number, number>()
    for (const node of nodes) {
      node.daemon.state.watchAll(({ record }) => {
        const match = /^test\/bench-(\d+)$/.exec(record?.key ?? '')
        if (match !== null)
          shoalArrivals.set(Number(match[1]), (shoalArrivals.get(Number(match[1])) ?? 0) + 1)
      })
      node.daemon.mesh.subscribe(RAW_TOPIC, {
        validate: () => 'accept',
        deliver: ({ data }) => {
          const trial = Number(new TextDecoder().decode(data).split(':')[0])
          rawArrivals.set(trial, (rawArrivals.get(trial) ?? 0) + 1)
        },
      })
    }
    await sleep(3_000)
    const writer = (trial: number): TestNode => nodes[trial % nodeCount]!
    // A payload the size of a node record, so both carry comparable bytes.
    const payload = 'x'.repeat(900)

    const shoal = await timeAll(
      trials,
      nodeCount,
      async (trial) => {
        // The writer's own merge counts as one arrival, like every other node's.
        await writer(trial).daemon.state.put(`test/bench-${trial}`, { payload })
      },
      shoalArrivals,
    )
    const raw = await timeAll(
      trials,
      nodeCount - 1,
      async (trial) => {
        await writer(trial).daemon.mesh.publish(RAW_TOPIC, new TextEncoder().encode(`${trial}:${payload}`))
      },
      rawArrivals,
    )
    const shoalSummary = summarize(shoal)
    const rawSummary = summarize(raw)
    return {
      nodes: nodeCount,
      trials,
      shoal: shoalSummary,
      rawGossip: rawSummary,
      p99Ratio: Math.round((shoalSummary.p99 / rawSummary.p99) * 100) / 100,
    }
  } finally {
    await destroyNodes(nodes)
  }
}
