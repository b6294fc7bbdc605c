// Coordinator failover (kill -9 → all survivors name one new holder), time to one holder after a heal, lease traffic.
import { performance } from 'node:perf_hooks'
import { NetnsLab } from '../scripts/netns-lab.js'
import { LEASE_MS } from '../src/coordinator/constants.js'
import { agreedProcesses } from '../test/helpers/coordinator.js'
import { cleanupDaemons, type DaemonProcess, signalDaemon, spawnDaemon } from '../test/helpers/processes.js'
import { sleep } from '../test/helpers/wait.js'
import { type Summary, summarize } from './stats.js'

const CLUSTER_SIZE = 5

function waitAgreement(procs: readonly DaemonProcess[], minTerm: number, what: string) {
  return agreedProcesses(procs, what, { minTerm, timeoutMs: 60_000, intervalMs: 20 })
}

interface Cluster {
  procs: DaemonProcess[]
  spawn(index: number, dataDir?: string): Promise<DaemonProcess>
  lab?: NetnsLab
}

async function startCluster(inLab: boolean): Promise<Cluster> {
  const lab = inLab ? await NetnsLab.create(CLUSTER_SIZE) : undefined
  const procs: DaemonProcess[] = []
  const spawn = async (index: number, dataDir?: string): Promise<DaemonProcess> => {
    const first = procs[0]
    const join =
      first === undefined
        ? []
        : [
            '--swarm-key',
            `${first.dataDir}/swarm.key`,
            ...(lab ? [] : ['--bootstrap', first.status.addresses[0]!]),
          ]
    const proc = await spawnDaemon({
      name: `fo${index}`,
      dataDir,
      netns: lab?.hosts[index]?.ns,
      args: join,
    })
    procs[index] = proc
    return proc
  }
  await spawn(0)
  await Promise.all(Array.from({ length: CLUSTER_SIZE - 1 }, (_, i) => spawn(i + 1)))
  return { procs, spawn, lab }
}

export interface FailoverResult {
  where: 'loopback' | 'netns-lab'
  nodes: number
  trials: number
  /** kill -9 of the holder → every survivor names the same new holder (ms). */
  failover: Summary
  /** The lease length: the floor of failover, since survivors wait it out. */
  leaseMs: number
  /** failover p50 and p99 over the lease length. */
  ratioToLease: { p50: number; p99: number }
  /** Terms that went up by more than one in a trial (a contested election). */
  contested: number
}

export async function failover(trials: number, inLab: boolean): Promise<FailoverResult> {
  const cluster = await startCluster(inLab)
  const samples: number[] = []
  let contested = 0
  try {
    let view = await waitAgreement(cluster.procs, 1, 'a first coordinator')
    for (let trial = 0; trial < trials; trial++) {
      const index = cluster.procs.findIndex((proc) => proc.status.peerId === view.holder)
      const victim = cluster.procs[index]!
      const survivors = cluster.procs.filter((proc) => proc !== victim)
      // Kill at a random phase of the renewal cycle.
      await sleep(Math.random() * 1_000)
      const killedAt = performance.now()
      await signalDaemon(victim, 'SIGKILL')
      const next = await waitAgreement(survivors, view.term + 1, 'the survivors to agree on a new holder')
      samples.push(performance.now() - killedAt)
      if (next.term > view.term + 1) contested++
      // The victim comes back with the same identity, as a restarted machine would.
      await cluster.spawn(index, victim.dataDir)
      view = await waitAgreement(cluster.procs, next.term, 'the restarted node to agree')
    }
  } finally {
    await cleanupDaemons()
    await cluster.lab?.destroy()
  }
  const summary = summarize(samples)
  return {
    where: inLab ? 'netns-lab' : 'loopback',
    nodes: CLUSTER_SIZE,
    trials,
    failover: summary,
    leaseMs: LEASE_MS,
    ratioToLease: {
      p50: Math.round((summary.p50 / LEASE_MS) * 100) / 100,
      p99: Math.round((summary.p99 / LEASE_MS) * 100) / 100,
    },
    contested,
  }
}

export interface HealResult {
  nodes: number
  trials: number
  /** How long the holder's link stayed down each trial (ms). */
  partitionMs: number
  /** Link up → every node names one holder (ms). */
  singleCoordinator: Summary
  /** Link down → the cut-off side agrees on its own holder (ms): the failover under a partition. */
  sideElects: Summary
}

/** In the lab: cut the holder's link, let the rest elect, restore it, time until one holder remains. */
export async function healTime(trials: number, partitionMs: number): Promise<HealResult> {
  const cluster = await startCluster(true)
  const lab = cluster.lab!
  const heal: number[] = []
  const elect: number[] = []
  try {
    let view = await waitAgreement(cluster.procs, 1, 'a first coordinator')
    for (let trial = 0; trial < trials; trial++) {
      const index = cluster.procs.findIndex((proc) => proc.status.peerId === view.holder)
      const rest = cluster.procs.filter((_, i) => i !== index)
      const cutAt = performance.now()
      await lab.setLink(lab.hosts[index]!, false)
      const elected = await waitAgreement(rest, view.term + 1, 'the cut-off side to elect')
      elect.push(performance.now() - cutAt)
      await sleep(Math.max(0, partitionMs - (performance.now() - cutAt)))
      const healedAt = performance.now()
      await lab.setLink(lab.hosts[index]!, true)
      view = await waitAgreement(cluster.procs, elected.term, 'one holder after the heal')
      heal.push(performance.now() - healedAt)
      await sleep(2_000)
    }
  } finally {
    await cleanupDaemons()
    await lab.destroy()
  }
  return {
    nodes: CLUSTER_SIZE,
    trials,
    partitionMs,
    singleCoordinator: summarize(heal),
    sideElects: summarize(elect),
  }
}

export interface LeaseTrafficResult {
  nodes: number
  seconds: number
  /** Lease records each node received per second (renewals). */
  leaseRecordsPerNodePerSecond: number
  /** Their signed size, the payload gossip carries for them (bytes per node per second). */
  leaseBytesPerNodePerSecond: number
  /** The same for every other record (node heartbeats), as the baseline the lease adds to. */
  otherRecordsPerNodePerSecond: number
  ratioToHeartbeats: number
}

/** Counts record events by kind on every node's /v1/events stream for `seconds`. */
export async function leaseTraffic(seconds: number): Promise<LeaseTrafficResult> {
  const cluster = await startCluster(false)
  const counts = { lease: 0, leaseBytes: 0, other: 0 }
  const controllers: AbortController[] = []
  try {
    await waitAgreement(cluster.procs, 1, 'a first coordinator')
    await sleep(2_000)
    for (const proc of cluster.procs) {
      const controller = new AbortController()
      controllers.push(controller)
      void countEvents(proc, controller.signal, counts)
    }
    await sleep(seconds * 1_000)
  } finally {
    for (const controller of controllers) controller.abort()
    await cleanupDaemons()
  }
  const perNode = (n: number): number => Math.round((n / CLUSTER_SIZE / seconds) * 100) / 100
  return {
    nodes: CLUSTER_SIZE,
    seconds,
    leaseRecordsPerNodePerSecond: perNode(counts.lease),
    leaseBytesPerNodePerSecond: perNode(counts.leaseBytes),
    otherRecordsPerNodePerSecond: perNode(counts.other),
    ratioToHeartbeats: Math.round((counts.lease / Math.max(1, counts.other)) * 100) / 100,
  }
}

async function countEvents(
  proc: DaemonProcess,
  signal: AbortSignal,
  counts: { lease: number; leaseBytes: number; other: number },
): Promise<void> {
  try {
    const res = await fetch(`${proc.status.httpUrl}/v1/events`, { signal })
    const decoder = new TextDecoder()
    let buffer = ''
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end >= 0) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf('\n\n')
        if (!event.startsWith('event: record')) continue
        const data = JSON.parse(event.slice(event.indexOf('data: ') + 6)) as { kind: string; source: string }
        if (data.source === 'local') continue
        if (data.kind === 'lease') {
          counts.lease++
          counts.leaseBytes += Buffer.byteLength(event)
        } else {
          counts.other++
        }
      }
    }
  } catch {
    // Aborted at the end of the measurement.
  }
}
