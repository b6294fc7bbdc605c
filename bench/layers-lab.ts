// G1 and G2 in the namespace lab: N hosts and a registry host, every link shaped to B; shoal against N plain pulls.
import { execFile, spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import { createClient } from '../cli/client.js'
import { type LabHost, NetnsLab } from '../scripts/netns-lab.js'
import type { PullResult } from '../src/api/types.js'
import { cleanupDaemons, type DaemonProcess, signalDaemon, spawnDaemon } from '../test/helpers/processes.js'
import type { TestImage } from '../test/helpers/registry.js'
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js'
import { waitFor } from '../test/helpers/wait.js'
import { startLinkTrace } from './link-trace.js'
import { cpuSplit, daemonNodeArgs, socketMetric } from './processes.js'
import { startSystemProfile } from './system-profile.js'

const run = promisify(execFile)
const ORIGIN_SCRIPT = join(import.meta.dirname, 'lab-origin.ts')
const REGISTRY_PORT = 5000

export interface LabPullResult {
  hosts: number
  linkMbit: number
  imageBytes: number
  layers: number
  /** S / B: the time one host needs to receive the image over its link. */
  idealSeconds: number
  shoal: {
    seconds: number
    originBytes: number
    peerBytes: number
    g1: number
    g2: number
    cpuSeconds: number
    /** Of cpuSeconds, the part spent in the kernel on the daemons' behalf (sockets, veth, tc). */
    cpuSystemSeconds: number
    cpuShareOfMachine: number
    /** Gossip messages all daemons published and received during the pull. */
    gossipOut: number
    gossipIn: number
    retries: number
    retryReasons: string[]
  }
  baseline: { seconds: number; originBytes: number; g1: number; g2: number }
}

function inHost(lab: NetnsLab, host: LabHost, args: string[]): Promise<{ stdout: string }> {
  const [command, commandArgs] = lab.wrap(host, process.execPath, ['--import', 'tsx', ...args])
  return run(command, commandArgs, { maxBuffer: 16 * 1024 * 1024 })
}

export async function layersLab(
  hosts = 8,
  linkMbit = 100,
  layerBytes = [12e6, 12e6, 12e6, 12e6],
): Promise<LabPullResult> {
  const lab = await NetnsLab.create(hosts + 1)
  const registryHost = lab.hosts[0]!
  const registryDir = await makeTempDir('shoal-lab-registry-')
  const registry = `${registryHost.ip}:${REGISTRY_PORT}`
  const config = join(registryDir, 'config.yml')
  await writeFile(
    config,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(registryDir, 'data')}\nhttp:\n  addr: ${registry}\n`,
  )
  const [command, args] = lab.wrap(registryHost, 'docker-registry', ['serve', config])
  const registryProcess = spawn(command, args, { stdio: 'ignore' })
  const procs: DaemonProcess[] = []
  const dataDirs: string[] = []
  try {
    await waitFor(
      'the lab registry',
      () =>
        inHost(lab, registryHost, [ORIGIN_SCRIPT, 'ping', registry]).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 30_000, intervalMs: 300 },
    )
    const { stdout } = await inHost(lab, registryHost, [
      ORIGIN_SCRIPT,
      'push',
      registry,
      'bench/app',
      'v1',
      ...layerBytes.map(String),
    ])
    const image = JSON.parse(stdout) as TestImage
    for (const host of lab.hosts) await lab.shape(host, { rateMbit: linkMbit })
    const idealSeconds = image.size / ((linkMbit * 1e6) / 8)

    // Baseline: every host pulls every blob from the registry itself, all at once.
    let started = performance.now()
    const skipBaseline = process.env.SHOAL_BENCH_SKIP_BASELINE !== undefined
    const plain = await Promise.all(
      (skipBaseline ? [] : lab.hosts)
        .slice(1)
        .map((host) =>
          inHost(lab, host, [
            ORIGIN_SCRIPT,
            'fetch',
            registry,
            'bench/app',
            ...image.blobs.map((b) => b.digest),
          ]),
        ),
    )
    const baselineSeconds = (performance.now() - started) / 1000
    const baselineBytes = plain.reduce(
      (sum, out) => sum + (JSON.parse(out.stdout) as { bytes: number }).bytes,
      0,
    )

    // shoal: one daemon per host (mDNS finds the others), all pulling the same image at once.
    for (const host of lab.hosts.slice(1)) {
      const dataDir = await makeTempDir('shoal-lab-')
      dataDirs.push(dataDir)
      await writeFile(
        join(dataDir, 'registries.json'),
        JSON.stringify({ registries: { [registry]: { insecure: true } } }),
      )
      const swarm = procs[0] === undefined ? [] : ['--swarm-key', `${procs[0].dataDir}/swarm.key`]
      procs.push(
        await spawnDaemon({
          name: host.name,
          dataDir,
          netns: host.ns,
          args: swarm,
          nodeArgs: daemonNodeArgs(),
        }),
      )
    }
    await waitFor(
      'every daemon to see every inventory',
      async () => {
        const counts = await Promise.all(
          procs.map((p) => createClient(p.dataDir).get<unknown[]>('/v1/nodes')),
        )
        return counts.every((list) => list.length === hosts)
      },
      { timeoutMs: 60_000 },
    )
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    const stopSystemProfile = await startSystemProfile()
    const traceFile = process.env.SHOAL_BENCH_LINK_TRACE
    const stopLinkTrace =
      traceFile === undefined
        ? undefined
        : startLinkTrace(
            lab,
            traceFile,
            procs.map((proc) => proc.pid),
          )
    const gossipCounts = async (): Promise<[number, number]> => {
      const count = (name: string) =>
        Promise.all(procs.map((proc) => socketMetric(proc.dataDir, name))).then((all) =>
          all.reduce((a, b) => a + b, 0),
        )
      return [await count('shoal_gossip_messages_out_total'), await count('shoal_gossip_messages_in_total')]
    }
    const gossipBefore = await gossipCounts()
    const cpuBefore = await Promise.all(procs.map((proc) => cpuSplit(proc.pid)))
    started = performance.now()
    const results = await Promise.all(
      procs.map(async (proc) => {
        let result: PullResult | undefined
        await createClient(proc.dataDir).stream(
          '/v1/images/pull',
          { ref: `${registry}/bench/app:v1` },
          (line) => {
            const event = line as { type: string } & PullResult
            if (event.type === 'result') result = event
            if (event.type === 'error') throw new Error(JSON.stringify(line))
          },
        )
        return result!
      }),
    )
    const shoalSeconds = (performance.now() - started) / 1000
    const cpuAfter = await Promise.all(procs.map((proc) => cpuSplit(proc.pid)))
    const gossipAfter = await gossipCounts()
    await stopSystemProfile()
    await stopLinkTrace?.()
    // Blob routes that failed and were retried: each costs a backoff and a new route.
    const logs = await Promise.all(procs.map((proc) => readFile(proc.logFile, 'utf8')))
    const keepLogs = process.env.SHOAL_BENCH_LOGS
    if (keepLogs !== undefined) {
      await mkdir(keepLogs, { recursive: true })
      await Promise.all(procs.map((proc, i) => writeFile(join(keepLogs, `${proc.name}.log`), logs[i]!)))
    }
    const retryReasons = logs
      .flatMap((log) => log.split('\n'))
      .filter((line) => line.includes('trying another route'))
      .map((line) => (JSON.parse(line) as { err?: string }).err ?? '')
    const cpuUser = cpuAfter.reduce((sum, after, i) => sum + after.user - cpuBefore[i]!.user, 0)
    const cpuSystem = cpuAfter.reduce((sum, after, i) => sum + after.system - cpuBefore[i]!.system, 0)
    const cpuUsed = cpuUser + cpuSystem
    const originBytes = results.reduce((sum, r) => sum + r.bytesFromOrigin, 0)
    const peerBytes = results.reduce((sum, r) => sum + r.bytesFromPeers, 0)
    if (process.env.SHOAL_BENCH_CPU_PROF !== undefined) {
      // A profile is written on a clean exit only.
      await Promise.all(procs.map((proc) => signalDaemon(proc, 'SIGTERM')))
    }
    const round = (x: number): number => Math.round(x * 100) / 100
    return {
      hosts,
      linkMbit,
      imageBytes: image.size,
      layers: image.layers.length,
      idealSeconds: round(idealSeconds),
      shoal: {
        seconds: round(shoalSeconds),
        originBytes,
        peerBytes,
        g1: round(originBytes / image.size),
        g2: round(shoalSeconds / idealSeconds),
        /** CPU seconds all daemons used during the pull, and that over the cores the machine has × the time. */
        cpuSeconds: round(cpuUsed),
        cpuSystemSeconds: round(cpuSystem),
        cpuShareOfMachine: round(cpuUsed / (availableParallelism() * shoalSeconds)),
        gossipOut: gossipAfter[0] - gossipBefore[0],
        gossipIn: gossipAfter[1] - gossipBefore[1],
        retries: retryReasons.length,
        retryReasons: [
          ...new Set(retryReasons.map((reason) => reason.replace(/sha256:[a-f0-9]{64}/g, '<digest>'))),
        ].slice(0, 5),
      },
      baseline: {
        seconds: round(baselineSeconds),
        originBytes: baselineBytes,
        g1: round(baselineBytes / image.size),
        g2: round(baselineSeconds / idealSeconds),
      },
    }
  } finally {
    await cleanupDaemons()
    registryProcess.kill('SIGTERM')
    await new Promise((resolve) => registryProcess.once('exit', resolve))
    await removeDir(registryDir)
    for (const dir of dataDirs) await removeDir(dir)
    await lab.destroy()
  }
}
