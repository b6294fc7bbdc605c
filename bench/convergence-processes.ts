// Convergence across N daemon processes: each write (a job spec batch), from its stamp until every other daemon merged it.
import { createClient } from '../cli/client.js'
import type { RecordEvent } from '../src/api/types.js'
import { metricSamples } from '../test/helpers/metrics.js'
import { cleanupDaemons, type DaemonProcess, signalDaemon } from '../test/helpers/processes.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import { cpuSeconds, nodesOf, spawnCluster } from './processes.js'
import { p99WithUnconverged, round, type Summary, summarize } from './stats.js'

export interface ProcessConvergenceResult {
  nodes: number
  sampleSeconds: number
  /** Writes that reached every other node within the window. */
  writes: number
  /** Writes that some node never reported (lost, or superseded before it arrived). */
  incomplete: number
  /** Whether every daemon listed every daemon alive before sampling began (false: the machine is saturated). */
  settledBeforeSampling: boolean
  /** Daemons whose event stream reported any record from another node during the window. */
  observersReporting: number
  /** Each node's write rate during the window (writes per second per node). */
  writesPerNodePerSecond: number
  /** CPU of all daemons together during the window, in cores (the machine has two). */
  totalCores: number
  /** Each daemon's longest event-loop delay during the window (ms; sampled by a 1 s timer, so stalls show). */
  eventLoopLagMax: Summary
  /** Connections each daemon had open when sampling began. */
  connections: Summary
  /** Stamp of a record → merged on every other daemon and announced on its event stream (ms), complete writes. */
  convergence: Summary
  /** The p99 over every write, incomplete ones counted as never converged (null: more than 1 % were). */
  p99AllWrites: number | null
  /** How the copies arrived: each copy's latency by the path it took (gossip or anti-entropy sync). */
  copies: { gossip: Summary; sync: Summary }
  /** Writes whose last copy arrived by each path. */
  lastCopyBy: { gossip: number; sync: number }
  /** The p99 of writes made in each 10 s of the window, in order (a stall shows as one bad slice). */
  p99Per10s: number[]
  /** Copies later than 1 s, by the daemon that received them (the five with most). */
  lateCopiesByObserver: Record<string, number>
}

/**
 * All daemons run on one machine, so one clock: a record's HLC wall stamp is the moment it was written,
 * and (arrival at the harness − stamp) is its latency to that daemon, plus well under a millisecond of
 * local SSE delivery.
 */
export async function processConvergence(
  nodeCount: number,
  sampleSeconds = 60,
  writeEveryMs = 2_000,
): Promise<ProcessConvergenceResult> {
  const [result] = await processConvergenceRates(nodeCount, sampleSeconds, [writeEveryMs])
  return result!
}

/**
 * One cluster sampled at each write interval in turn (spawning 30 daemons takes minutes of the machine).
 * An interval of 0 samples the cluster with no writes: its CPU is the idle floor the writes add to.
 */
export async function processConvergenceRates(
  nodeCount: number,
  sampleSeconds: number,
  writeIntervalsMs: readonly number[],
): Promise<ProcessConvergenceResult[]> {
  const cluster = await spawnCluster(nodeCount, `pc${nodeCount}-`)
  const controllers: AbortController[] = []
  const arrivals = new Map<string, { latency: number; source: RecordEvent['source']; observer: string }[]>()
  const perObserver = new Map<string, number>()
  let collecting = false
  try {
    const settledBeforeSampling = await waitFor(
      'every daemon to list every daemon alive',
      async () => {
        for (const proc of cluster) {
          if ((await nodesOf(proc)).filter((node) => node.state === 'alive').length !== nodeCount)
            return false
        }
        return true
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    ).catch(() => false)
    await sleep(5_000)
    await Promise.all(
      cluster.map((proc) =>
        follow(proc, controllers, (event) => {
          if (!collecting || event.source === 'local') return
          perObserver.set(proc.name, (perObserver.get(proc.name) ?? 0) + 1)
          const id = `${event.origin}/${event.stamp.wall}/${event.stamp.counter}`
          const latency = Date.now() - event.stamp.wall
          const copy = { latency, source: event.source, observer: proc.name }
          const seen = arrivals.get(id)
          if (seen === undefined) arrivals.set(id, [copy])
          else seen.push(copy)
        }),
      ),
    )
    const results: ProcessConvergenceResult[] = []
    for (const writeEveryMs of writeIntervalsMs) {
      arrivals.clear()
      perObserver.clear()
      const connections = await Promise.all(cluster.map((proc) => peersOf(proc)))
      const cpuBefore = await Promise.all(cluster.map((proc) => cpuSeconds(proc.pid)))
      collecting = true
      // Nothing is written while a mesh is idle (no heartbeats): each daemon writes a record every `writeEveryMs`,
      // a job that waits for a label no node has (a spec batch, and the coordinator's note of why it waits).
      const writers =
        writeEveryMs === 0
          ? []
          : cluster.map((proc, i) =>
              writeLoop(proc, writeEveryMs, i * (writeEveryMs / nodeCount), () => collecting),
            )
      await sleep(sampleSeconds * 1_000)
      collecting = false
      await Promise.all(writers)
      const cpuAfter = await Promise.all(cluster.map((proc) => cpuSeconds(proc.pid)))
      // The daemons' event-loop histograms were reset when `peersOf` scraped them at the start.
      const lagMax = await Promise.all(
        cluster.map((proc) => metricOf(proc, 'nodejs_eventloop_lag_max_seconds')),
      )
      // Writes from the last second may still be in flight: give them time, then judge.
      collecting = true
      await sleep(2_000)
      collecting = false
      results.push(
        judge(arrivals, nodeCount, {
          nodes: nodeCount,
          sampleSeconds,
          settledBeforeSampling,
          observersReporting: perObserver.size,
          writesPerNodePerSecond: writeEveryMs === 0 ? 0 : 1_000 / writeEveryMs,
          totalCores: round(cpuAfter.reduce((sum, cpu, i) => sum + cpu - cpuBefore[i]!, 0) / sampleSeconds),
          connections: summarize(connections),
          eventLoopLagMax: summarize(lagMax.map((seconds) => seconds * 1_000)),
        }),
      )
      // Let the backlog of a saturated phase drain before the next one starts.
      await sleep(5_000)
    }
    return results
  } finally {
    for (const controller of controllers) controller.abort()
    // A CPU profile is written only on a clean exit.
    if (process.env.SHOAL_BENCH_CPU_PROF !== undefined)
      await Promise.all(cluster.map((proc) => signalDaemon(proc, 'SIGTERM')))
    await cleanupDaemons()
  }
}

/** A write's wall stamp, from its id `<origin>/<wall>/<counter>`. */
function wallOf(id: string): number {
  return Number(id.split('/')[1])
}

type Copy = { latency: number; source: RecordEvent['source']; observer: string }

/** A write converged when every other node reported it; its latency is the last copy's. */
function judge(
  arrivals: ReadonlyMap<string, Copy[]>,
  nodeCount: number,
  base: Omit<
    ProcessConvergenceResult,
    | 'writes'
    | 'incomplete'
    | 'convergence'
    | 'p99AllWrites'
    | 'copies'
    | 'lastCopyBy'
    | 'lateCopiesByObserver'
    | 'p99Per10s'
  >,
): ProcessConvergenceResult {
  const complete: number[] = []
  let incomplete = 0
  const bySource = { gossip: [] as number[], sync: [] as number[] }
  const lastCopyBy = { gossip: 0, sync: 0 }
  const late = new Map<string, number>()
  const slices = new Map<number, number[]>()
  const firstWall = Math.min(...[...arrivals.keys()].map(wallOf))
  for (const [id, copies] of arrivals) {
    for (const copy of copies) {
      if (copy.source !== 'local') bySource[copy.source].push(copy.latency)
      if (copy.latency > 1_000) late.set(copy.observer, (late.get(copy.observer) ?? 0) + 1)
    }
    if (copies.length < nodeCount - 1) {
      incomplete++
      continue
    }
    const last = copies.reduce((a, b) => (b.latency > a.latency ? b : a))
    complete.push(last.latency)
    const slice = Math.floor((wallOf(id) - firstWall) / 10_000)
    slices.set(slice, [...(slices.get(slice) ?? []), last.latency])
    if (last.source !== 'local') lastCopyBy[last.source]++
  }
  return {
    ...base,
    writes: complete.length,
    incomplete,
    convergence: summarize(complete),
    p99AllWrites: p99WithUnconverged(complete, incomplete),
    copies: { gossip: summarize(bySource.gossip), sync: summarize(bySource.sync) },
    lastCopyBy,
    p99Per10s: [...slices].sort((a, b) => a[0] - b[0]).map(([, latencies]) => summarize(latencies).p99),
    lateCopiesByObserver: Object.fromEntries([...late].sort((a, b) => b[1] - a[1]).slice(0, 5)),
  }
}

/** Submits a job that can never be placed every `everyMs`, starting after `offsetMs`, while `going()`. */
async function writeLoop(
  proc: DaemonProcess,
  everyMs: number,
  offsetMs: number,
  going: () => boolean,
): Promise<void> {
  const client = createClient(proc.dataDir)
  await sleep(offsetMs)
  for (let n = 0; going(); n++) {
    await client.post('/v1/jobs', [
      { driver: 'exec', command: ['true'], constraints: { bench: 'nowhere' }, tags: { w: String(n) } },
    ])
    await sleep(everyMs)
  }
}

/** A gauge from a daemon's /metrics (scraping also resets its event-loop delay histogram). */
async function metricOf(proc: DaemonProcess, name: string): Promise<number> {
  return (await metricSamples(proc.status.httpUrl, name))[0] ?? Number.NaN
}

function peersOf(proc: DaemonProcess): Promise<number> {
  return metricOf(proc, 'shoal_peers')
}

async function follow(
  proc: DaemonProcess,
  controllers: AbortController[],
  onRecord: (event: RecordEvent) => void,
): Promise<void> {
  const controller = new AbortController()
  controllers.push(controller)
  const res = await fetch(`${proc.status.httpUrl}/v1/events?kinds=jobs`, { signal: controller.signal })
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  void (async () => {
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        if (frame.startsWith('event: record'))
          onRecord(JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as RecordEvent)
      }
    }
  })()
}
