// Idle control traffic per host in the namespace lab (mDNS included), at 8 and 20 hosts: flat means per-node cost flat.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createClient } from '../cli/client.js'
import { NetnsLab } from '../scripts/netns-lab.js'
import type { NodeView } from '../src/api/types.js'
import { cleanupDaemons, type DaemonProcess, spawnDaemon } from '../test/helpers/processes.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import { cpuSeconds, socketMetric } from './processes.js'
import { type Summary, summarize } from './stats.js'

const run = promisify(execFile)

export interface IdleTrafficPoint {
  hosts: number
  sampleSeconds: number
  /** Bytes in and out of each host's link (its switch port), in kbit/s. */
  kbitPerHost: Summary
  /** CPU of each daemon, % of one core. */
  cpuPercentPerDaemon: Summary
  /** What the daemons sent and wrote during the sample, per host and minute (what the bytes are made of). */
  perHostPerMinute: Record<(typeof COUNTED)[number], number>
}

/** Counters read from every daemon before and after the sample. */
const COUNTED = [
  'shoal_gossip_messages_in_total',
  'shoal_gossip_messages_out_total',
  'shoal_node_record_writes_total',
  'shoal_sync_rounds_total',
  'shoal_probes_total',
] as const

export interface IdleTrafficResult {
  points: IdleTrafficPoint[]
  /** Mean kbit/s per host at the largest size over that at the smallest (flat: near 1). */
  largestOverSmallest: number
}

export async function idleTraffic(
  sizes: readonly number[] = [8, 20],
  sampleSeconds = 60,
): Promise<IdleTrafficResult> {
  const points: IdleTrafficPoint[] = []
  for (const hosts of sizes) points.push(await measure(hosts, sampleSeconds))
  const first = points[0]!.kbitPerHost.mean
  const last = points.at(-1)!.kbitPerHost.mean
  return { points, largestOverSmallest: Math.round((last / first) * 100) / 100 }
}

async function measure(hosts: number, sampleSeconds: number): Promise<IdleTrafficPoint> {
  const lab = await NetnsLab.create(hosts)
  const procs: DaemonProcess[] = []
  try {
    // mDNS finds the others (no --bootstrap); the swarm key is the first daemon's.
    procs.push(await spawnDaemon({ name: 'it0', netns: lab.hosts[0]!.ns }))
    const key = ['--swarm-key', `${procs[0]!.dataDir}/swarm.key`]
    for (let i = 1; i < hosts; i += 5) {
      const wave = lab.hosts
        .slice(i, i + 5)
        .map((host, j) => spawnDaemon({ name: `it${i + j}`, netns: host.ns, args: key }))
      procs.push(...(await Promise.all(wave)))
    }
    await waitFor(
      `${hosts} daemons alive in every view`,
      async () =>
        (await Promise.all(procs.map(nodesOverSocket))).every(
          (list) => list.filter((node) => node.state === 'alive').length === hosts,
        ),
      { timeoutMs: 180_000, intervalMs: 1_000 },
    )
    // Joining costs sync rounds and records; the steady state comes after.
    await sleep(20_000)
    const bytesBefore = await portBytes(lab)
    const cpuBefore = await Promise.all(procs.map((proc) => cpuSeconds(proc.pid)))
    const countsBefore = await counts(procs)
    await sleep(sampleSeconds * 1_000)
    const bytesAfter = await portBytes(lab)
    const cpuAfter = await Promise.all(procs.map((proc) => cpuSeconds(proc.pid)))
    const countsAfter = await counts(procs)
    const perHostPerMinute = Object.fromEntries(
      COUNTED.map((name) => [
        name,
        Math.round(((countsAfter[name] - countsBefore[name]) / hosts / sampleSeconds) * 60 * 10) / 10,
      ]),
    ) as IdleTrafficPoint['perHostPerMinute']
    const kbit = lab.hosts.map(
      (host) =>
        (((bytesAfter.get(host.port) ?? 0) - (bytesBefore.get(host.port) ?? 0)) * 8) / 1000 / sampleSeconds,
    )
    const cpu = cpuAfter.map((after, i) => ((after - cpuBefore[i]!) / sampleSeconds) * 100)
    return {
      hosts,
      sampleSeconds,
      kbitPerHost: summarize(kbit),
      cpuPercentPerDaemon: summarize(cpu),
      perHostPerMinute,
    }
  } finally {
    await cleanupDaemons()
    await lab.destroy()
  }
}

/** Each counter summed over every daemon. */
async function counts(procs: DaemonProcess[]): Promise<Record<(typeof COUNTED)[number], number>> {
  const totals = {} as Record<(typeof COUNTED)[number], number>
  for (const name of COUNTED) {
    const values = await Promise.all(procs.map((proc) => socketMetric(proc.dataDir, name)))
    totals[name] = values.reduce((a, b) => a + b, 0)
  }
  return totals
}

/** The nodes a daemon in a namespace lists (its HTTP port is on the namespace's loopback; its socket is a file). */
function nodesOverSocket(proc: DaemonProcess): Promise<NodeView[]> {
  return createClient(proc.dataDir).get<NodeView[]>('/v1/nodes?all=1')
}

/** Bytes received plus sent on every switch port so far, by port. */
async function portBytes(lab: NetnsLab): Promise<Map<string, number>> {
  const { stdout } = await run('ip', ['-n', lab.switchNs, '-s', '-j', 'link', 'show'])
  const bytes = new Map<string, number>()
  for (const port of JSON.parse(stdout) as Array<{
    ifname: string
    stats64?: { rx: { bytes: number }; tx: { bytes: number } }
  }>) {
    if (port.stats64 !== undefined)
      bytes.set(port.ifname.split('@')[0]!, port.stats64.rx.bytes + port.stats64.tx.bytes)
  }
  return bytes
}
