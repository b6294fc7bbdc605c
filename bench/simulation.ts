// Many real daemons in one process (real mesh, gossip, LevelDB, probing on loopback), as many as one event loop holds.

import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { STATE_TOPIC } from '../src/state/constants.js'
import { destroyNodes, startNode, type TestNode } from '../test/helpers/in-process.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import { p99WithUnconverged, round, type Summary, summarize } from './stats.js'

export interface SimulationPoint {
  nodes: number
  /** Every node saw every other alive before the writes began (false: the one event loop is saturated). */
  settled: boolean
  /** Writes measured (each by a random node, WRITES_PER_SECOND cluster-wide). */
  writes: number
  /** Writes some node never merged within the window. */
  incomplete: number
  /** A write's stamp → merged on the last other node (ms), writes that reached every node. */
  convergence: Summary
  /** The p99 over every write, incomplete ones counted as never converged (null: more than 1 % were). */
  p99AllWrites: number | null
  /** Gossip messages each node received (accepted), per second, while writes ran. */
  gossipInPerNodePerSecond: number
  /** Gossipsub RPCs each node received per second while writes ran (messages, control, subscriptions). */
  rpcsInPerNodePerSecond: number
  /** Message copies each node received per second, duplicates included. */
  copiesInPerNodePerSecond: number
  /** IHAVE announcements each node received per second (gossip to peers outside its mesh). */
  ihaveInPerNodePerSecond: number
  /** Probe frames each node sent, per second (its liveness work). */
  probesPerNodePerSecond: number
  /** From the first start to every node alive in every view (ms). */
  settleMs: number
  /** The shared event loop's delay while writes ran (ms): how saturated the one process is. */
  eventLoopDelayP99Ms: number
  /** Open connections per node while writes ran (mean). */
  connectionsPerNode: number
  /** Gossipsub mesh peers per node on the state topic (mean): the copies of each message a node receives. */
  meshPeersPerNode: number
  /** CPU time of the whole process while writes ran, per node (ms of CPU per second): each node's share. */
  cpuMsPerNodePerSecond: number
  /** The same over 5 s with no writes, just after the nodes settled: each node's cost of being in the mesh. */
  idleCpuMsPerNodePerSecond: number
  /** Resident memory of the process with every node running (MiB). */
  rssMiB: number
}

export interface SimulationResult {
  sampleSeconds: number
  writesPerSecond: number
  points: SimulationPoint[]
}

/** Cluster-wide writes a second, the same at every size: a node's share of the work should not grow with N. */
const WRITES_PER_SECOND = Number(process.env.SHOAL_SIM_WRITES ?? 5)

/** Nodes started at once, and how long a wave may take to appear in every view before the next starts anyway. */
const WAVE = Number(process.env.SHOAL_SIM_WAVE ?? 10)
const WAVE_SETTLE_MS = 60_000

export async function simulation(
  sizes: readonly number[] = [25, 50, 100],
  sampleSeconds = 30,
): Promise<SimulationResult> {
  const points: SimulationPoint[] = []
  for (const size of sizes) points.push(await measure(size, sampleSeconds))
  return { sampleSeconds, writesPerSecond: WRITES_PER_SECOND, points }
}

async function measure(size: number, sampleSeconds: number): Promise<SimulationPoint> {
  const nodes: TestNode[] = []
  const begun = Date.now()
  try {
    nodes.push(await startNode({ name: `s${size}-0` }))
    // Waves of WAVE nodes, each joining through a node already in the mesh, the next wave once this one is in
    // every view: a cluster grown a rack at a time, not 100 machines booted in the same second.
    for (let i = 1; i < size; i += WAVE) {
      const joined = nodes.slice()
      const wave = Array.from({ length: Math.min(WAVE, size - i) }, (_, j) =>
        startNode({ name: `s${size}-${i + j}`, join: joined[(i + j) % joined.length] }),
      )
      nodes.push(...(await Promise.all(wave)))
      if (nodes.length < size) {
        const inView = await allAlive(nodes, WAVE_SETTLE_MS)
        progress(`${nodes.length} started, all in every view: ${inView}, ${Date.now() - begun} ms`)
      }
    }
    progress(`${size} nodes: started after ${Date.now() - begun} ms`)
    // All of them share this process's one event loop: past a few dozen they may never all look alive at once.
    const settled = await allAlive(nodes, 120_000)
    const settleMs = Date.now() - begun
    progress(`${size} nodes: settled=${settled} after ${settleMs} ms`)
    const idleCpuBefore = process.cpuUsage()
    const idleStarted = Date.now()
    const idleProfiler = await startProfile()
    await sleep(5_000)
    await idleProfiler?.stop(`idle-${size}`)
    const idleCpu = process.cpuUsage(idleCpuBefore)
    const idleCpuMsPerNodePerSecond = round(
      (idleCpu.user + idleCpu.system) / 1_000 / ((Date.now() - idleStarted) / 1_000) / size,
    )
    const loopDelay = monitorEventLoopDelay({ resolution: 10 })
    loopDelay.enable()
    const profiler = await startProfile()
    const cpuBefore = process.cpuUsage()
    const arrivals = new Map<string, { at: number[]; stamp: number }>()
    const unwatch = nodes.map((node) =>
      node.daemon.state.watchAll(({ record, source }) => {
        if (record === undefined || source === 'local' || !record.key.startsWith('test/sim-')) return
        const seen = arrivals.get(record.key) ?? { at: [], stamp: record.stamp.wall }
        seen.at.push(Date.now())
        arrivals.set(record.key, seen)
      }),
    )
    const rpcCounts = nodes.map(countRpcs)
    const gossipBefore = nodes.map((node) => counter(node, 'shoal_gossip_messages_in_total'))
    const probesBefore = nodes.map((node) => probes(node))
    let n = 0
    const started = Date.now()
    while (Date.now() - started < sampleSeconds * 1_000) {
      const writer = nodes[Math.floor(Math.random() * nodes.length)]!
      await writer.daemon.state.put(`test/sim-${size}-${n++}`, { n })
      await sleep(1_000 / WRITES_PER_SECOND)
    }
    const seconds = (Date.now() - started) / 1_000
    const rpcTotals = rpcCounts.reduce(
      (sum, c) => ({ rpcs: sum.rpcs + c.rpcs, copies: sum.copies + c.copies, ihave: sum.ihave + c.ihave }),
      { rpcs: 0, copies: 0, ihave: 0 },
    )
    const rate = (total: number) => round(total / size / seconds)
    const cpu = process.cpuUsage(cpuBefore)
    loopDelay.disable()
    await profiler?.stop(`sim-${size}`)
    const meshPeersPerNode = round(nodes.reduce((sum, node) => sum + meshPeers(node), 0) / size)
    const connectionsPerNode = round(
      nodes.reduce((sum, node) => sum + node.daemon.mesh.connectedPeers().length, 0) / size,
    )
    const gossipAfter = nodes.map((node) => counter(node, 'shoal_gossip_messages_in_total'))
    const probesAfter = nodes.map((node) => probes(node))
    await sleep(2_000)
    for (const stop of unwatch) stop()
    const latencies: number[] = []
    let incomplete = 0
    for (const { at, stamp } of arrivals.values()) {
      if (at.length < size - 1) incomplete++
      else latencies.push(Math.max(...at) - stamp)
    }
    incomplete += n - arrivals.size
    const perNode = (after: number[], before: number[]) =>
      rate(after.reduce((s, v, i) => s + v - before[i]!, 0))
    return {
      nodes: size,
      settled,
      writes: latencies.length,
      incomplete,
      convergence: summarize(latencies),
      p99AllWrites: p99WithUnconverged(latencies, incomplete),
      gossipInPerNodePerSecond: perNode(await Promise.all(gossipAfter), await Promise.all(gossipBefore)),
      rpcsInPerNodePerSecond: rate(rpcTotals.rpcs),
      copiesInPerNodePerSecond: rate(rpcTotals.copies),
      ihaveInPerNodePerSecond: rate(rpcTotals.ihave),
      probesPerNodePerSecond: perNode(await Promise.all(probesAfter), await Promise.all(probesBefore)),
      settleMs,
      cpuMsPerNodePerSecond: rate((cpu.user + cpu.system) / 1_000),
      idleCpuMsPerNodePerSecond,
      eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
      connectionsPerNode,
      meshPeersPerNode,
      rssMiB: Math.round(process.memoryUsage().rss / 1024 ** 2),
    }
  } finally {
    await destroyNodes(nodes)
  }
}

async function counter(node: TestNode, name: string): Promise<number> {
  const metric = await node.daemon.metrics.getSingleMetric(name)?.get()
  return metric?.values.reduce((sum, value) => sum + value.value, 0) ?? 0
}

function probes(node: TestNode): Promise<number> {
  return counter(node, 'shoal_probes_total')
}

function progress(line: string): void {
  process.stderr.write(`[simulation] ${line}\n`)
}

/** SHOAL_SIM_CPU_PROF=<dir>: a CPU profile of the writes window only (not of the starts), one file per size. */
async function startProfile(): Promise<{ stop(name: string): Promise<void> } | undefined> {
  const dir = process.env.SHOAL_SIM_CPU_PROF
  if (dir === undefined) return undefined
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.start')
  return {
    async stop(name) {
      const { profile } = await session.post('Profiler.stop')
      await writeFile(`${dir}/${name}.cpuprofile`, JSON.stringify(profile))
      session.disconnect()
    },
  }
}

interface PubsubInternals {
  getMeshPeers(topic: string): unknown[]
  handleReceivedRpc(from: unknown, rpc: GossipRpc): Promise<void>
}

interface GossipRpc {
  messages?: unknown[]
  control?: { ihave?: unknown[]; iwant?: unknown[] }
}

/** Gossipsub itself, which the Mesh face does not expose (a benchmark's look inside, not an interface). */
function pubsubOf(node: TestNode): PubsubInternals | undefined {
  return (node.daemon.mesh as unknown as { node?: { services: { pubsub: PubsubInternals } } }).node?.services
    .pubsub
}

function meshPeers(node: TestNode): number {
  return pubsubOf(node)?.getMeshPeers(STATE_TOPIC).length ?? 0
}

/** What a node's gossipsub received, every RPC counted: all of its messages, not only the accepted ones. */
interface RpcCounts {
  rpcs: number
  /** Message copies, duplicates included. */
  copies: number
  ihave: number
}

function countRpcs(node: TestNode): RpcCounts {
  const counts: RpcCounts = { rpcs: 0, copies: 0, ihave: 0 }
  const pubsub = pubsubOf(node)
  if (pubsub === undefined) return counts
  const handle = pubsub.handleReceivedRpc.bind(pubsub)
  pubsub.handleReceivedRpc = (from, rpc) => {
    counts.rpcs++
    counts.copies += rpc.messages?.length ?? 0
    counts.ihave += rpc.control?.ihave?.length ?? 0
    return handle(from, rpc)
  }
  return counts
}

/** Waits until every node sees all of them alive; false if they did not within `timeoutMs`. */
function allAlive(nodes: readonly TestNode[], timeoutMs: number): Promise<boolean> {
  return waitFor(
    `${nodes.length} nodes alive in every view`,
    () => nodes.every((node) => node.daemon.membership.aliveNodes().length === nodes.length),
    { timeoutMs, intervalMs: 500 },
  ).then(
    () => true,
    () => false,
  )
}
