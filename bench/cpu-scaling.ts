// Per-daemon CPU in steady state as the cluster grows, measured where the machine is not saturated.
import os from 'node:os'
import { cleanupDaemons } from '../test/helpers/processes.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import { cpuSeconds, nodesOf, spawnCluster } from './processes.js'

export interface CpuScalingPoint {
  nodes: number
  /** Mean CPU of one daemon, % of one core. */
  perDaemonPercent: number
  /** All daemons together, in cores. */
  totalCores: number
}

export interface CpuScalingResult {
  sampleSeconds: number
  cores: number
  points: CpuScalingPoint[]
  /** Least-squares fit perDaemonPercent ≈ base + perPeer × (nodes − 1). */
  fit: { basePercent: number; perPeerPercent: number }
}

export async function cpuScaling(
  sizes: readonly number[] = [2, 5, 10, 15, 20],
  sampleSeconds = 20,
): Promise<CpuScalingResult> {
  const points: CpuScalingPoint[] = []
  for (const nodes of sizes) {
    const cluster = await spawnCluster(nodes, `cpu${nodes}-`)
    try {
      await waitFor(
        `${nodes} alive everywhere`,
        async () =>
          (await Promise.all(cluster.map(nodesOf))).every(
            (list) => list.filter((n) => n.state === 'alive').length === nodes,
          ),
        { timeoutMs: 120_000, intervalMs: 500 },
      )
      await sleep(10_000)
      const before = await Promise.all(cluster.map((proc) => cpuSeconds(proc.pid)))
      await sleep(sampleSeconds * 1_000)
      const after = await Promise.all(cluster.map((proc) => cpuSeconds(proc.pid)))
      const total = after.reduce((sum, cpu, i) => sum + (cpu - before[i]!), 0) / sampleSeconds
      points.push({
        nodes,
        perDaemonPercent: Math.round((total / nodes) * 1000) / 10,
        totalCores: Math.round(total * 100) / 100,
      })
    } finally {
      await cleanupDaemons()
    }
  }
  const xs = points.map((p) => p.nodes - 1)
  const ys = points.map((p) => p.perDaemonPercent)
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = ys.reduce((a, b) => a + b, 0) / ys.length
  const slope =
    xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0)
  const round = (x: number): number => Math.round(x * 100) / 100
  return {
    sampleSeconds,
    cores: os.availableParallelism(),
    points,
    fit: { basePercent: round(my - slope * mx), perPeerPercent: round(slope) },
  }
}
