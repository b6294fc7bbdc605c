// Helpers for benchmarks that run real daemon processes: a small joined cluster and /proc sampling.
import { readdir, readFile } from 'node:fs/promises'
import { createClient } from '../cli/client.js'
import type { NodeView } from '../src/api/types.js'
import { samplesIn } from '../test/helpers/metrics.js'
import { type DaemonProcess, joinArgs, spawnDaemon } from '../test/helpers/processes.js'
import { perfMapArgs } from './system-profile.js'

/** Daemons started at once: start-up costs ~1.5 s of CPU each, so a big cluster starts in waves. */
const SPAWN_WAVE = 4

/** Node options that write a CPU profile per daemon into $SHOAL_BENCH_CPU_PROF (on a clean exit), if set. */
export function profileArgs(): string[] {
  const dir = process.env.SHOAL_BENCH_CPU_PROF
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]
}

/**
 * Node options for benchmark daemons: any in $SHOAL_BENCH_NODE_ARGS (space-separated, e.g. V8 heap flags to
 * compare), then those of a CPU profile and of `perf` function names, when asked for.
 */
export function daemonNodeArgs(): string[] {
  const extra = process.env.SHOAL_BENCH_NODE_ARGS?.split(' ').filter((arg) => arg !== '') ?? []
  return [...extra, ...profileArgs(), ...perfMapArgs()]
}

export async function spawnCluster(count: number, prefix: string): Promise<DaemonProcess[]> {
  const nodeArgs = daemonNodeArgs()
  const first = await spawnDaemon({ name: `${prefix}0`, nodeArgs })
  const join = joinArgs(first)
  const cluster = [first]
  for (let next = 1; next < count; next += SPAWN_WAVE) {
    const wave = Array.from({ length: Math.min(SPAWN_WAVE, count - next) }, (_, i) =>
      spawnDaemon({ name: `${prefix}${next + i}`, args: join, nodeArgs }),
    )
    cluster.push(...(await Promise.all(wave)))
  }
  return cluster
}

export async function nodesOf(proc: DaemonProcess): Promise<NodeView[]> {
  const res = await fetch(`${proc.status.httpUrl}/v1/nodes?all=1`)
  return (await res.json()) as NodeView[]
}

const CLOCK_TICKS_PER_SECOND = 100

/** The fields of /proc/<pid>/stat after the command name (which may contain spaces): state, ppid, … */
async function statFields(pid: number | string): Promise<string[]> {
  return fieldsOfStat(await readFile(`/proc/${pid}/stat`, 'utf8'))
}

function fieldsOfStat(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/**
 * CPU seconds of a process itself and of the children it has waited for (their whole lives), from the text of
 * its /proc/<pid>/stat.
 */
export function cpuOfStat(stat: string): { own: number; reaped: number } {
  const fields = fieldsOfStat(stat).map(Number)
  return {
    own: (fields[11]! + fields[12]!) / CLOCK_TICKS_PER_SECOND,
    reaped: (fields[13]! + fields[14]!) / CLOCK_TICKS_PER_SECOND,
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export async function cpuSeconds(pid: number): Promise<number> {
  const { user, system } = await cpuSplit(pid)
  return user + system
}

/** CPU seconds a process has used so far in user space and in the kernel (for it: sends, receives, the tc path). */
export async function cpuSplit(pid: number): Promise<{ user: number; system: number }> {
  const fields = await statFields(pid)
  return {
    user: Number(fields[11]) / CLOCK_TICKS_PER_SECOND,
    system: Number(fields[12]) / CLOCK_TICKS_PER_SECOND,
  }
}

/** A metric's value summed over labels, read from a daemon's /metrics over its unix socket (any network namespace). */
export async function socketMetric(dataDir: string, name: string): Promise<number> {
  const chunks: Buffer[] = []
  await createClient(dataDir).getBytes('/metrics', (chunk) => chunks.push(chunk))
  return samplesIn(Buffer.concat(chunks).toString('utf8'), name).reduce((a, b) => a + b, 0)
}

/** CPU seconds of a process and, apart, of its live children (a daemon's exec spawner helper). */
export async function cpuOfProcessAndChildren(pid: number): Promise<{ own: number; children: number }> {
  const own = await cpuSeconds(pid)
  let children = 0
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    // A process may end while we look: it counts as nothing.
    const fields = await statFields(entry).catch(() => [])
    if (Number(fields[1]) === pid) children += await cpuSeconds(Number(entry)).catch(() => 0)
  }
  return { own, children }
}

/** Resident set size in MiB, from /proc/<pid>/status. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return Math.round((kib / 1024) * 10) / 10
}
