// Usage of instances: CPU and resident memory of a process group (from /proc) or a container (engine stats), disk of a directory.
import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type Dockerode from 'dockerode'

/** Cumulative CPU seconds and resident bytes now. */
export interface UsageSample {
  cpuSeconds: number
  memory: number
}

const TICKS_PER_SECOND = 100
const PAGE_BYTES = 4096

/** Sums CPU time and RSS of every process whose process group is one of `groups`, in one pass over /proc. */
export async function processGroupUsage(groups: ReadonlySet<number>): Promise<Map<number, UsageSample>> {
  const usage = new Map<number, UsageSample>()
  if (groups.size === 0) return usage
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'latin1')
    } catch {
      continue // gone meanwhile
    }
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const group = Number(fields[2])
    if (!groups.has(group)) continue
    const sample = usage.get(group) ?? { cpuSeconds: 0, memory: 0 }
    sample.cpuSeconds += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
    sample.memory += Number(fields[21]) * PAGE_BYTES
    usage.set(group, sample)
  }
  return usage
}

/** A container's cumulative CPU and memory in use, from one non-streaming stats call. */
export async function containerUsage(container: Dockerode.Container): Promise<UsageSample | undefined> {
  try {
    const stats = (await container.stats({ stream: false })) as {
      cpu_stats?: { cpu_usage?: { total_usage?: number } }
      memory_stats?: { usage?: number }
    }
    return {
      cpuSeconds: (stats.cpu_stats?.cpu_usage?.total_usage ?? 0) / 1e9,
      memory: stats.memory_stats?.usage ?? 0,
    }
  } catch {
    return undefined
  }
}

/** Bytes under a directory (files only, symlinks not followed), giving up after `maxEntries`. */
export async function directoryBytes(dir: string, maxEntries = 20_000): Promise<number> {
  let total = 0
  let seen = 0
  const stack = [dir]
  while (stack.length > 0 && seen < maxEntries) {
    const at = stack.pop()!
    let entries: string[]
    try {
      entries = await readdir(at)
    } catch {
      continue
    }
    for (const name of entries) {
      if (++seen > maxEntries) break
      const path = join(at, name)
      try {
        const info = await lstat(path)
        if (info.isDirectory()) stack.push(path)
        else if (info.isFile()) total += info.size
      } catch {
        // removed meanwhile
      }
    }
  }
  return total
}

/** CPU in cores between two samples taken `ms` apart. */
export function coresBetween(before: UsageSample | undefined, after: UsageSample, ms: number): number {
  if (before === undefined || ms <= 0) return 0
  return Math.max(0, Math.round(((after.cpuSeconds - before.cpuSeconds) / (ms / 1000)) * 1000) / 1000)
}
