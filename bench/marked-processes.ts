// Processes a benchmark started through daemons, found by a marker in their environment (they outlive a kill -9).
import { readdir, readFile } from 'node:fs/promises'

/** A process whose environment holds `name=value`, with the rest of its environment. */
export interface MarkedProcess {
  pid: number
  env: Map<string, string>
}

/** Live processes whose environment holds `name=value` (read from /proc/<pid>/environ). */
export async function markedProcesses(name: string, value: string): Promise<MarkedProcess[]> {
  const marker = `${name}=${value}`
  const found: MarkedProcess[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    // A process may end while we look, or belong to another user: either way it is not ours.
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '')
    const lines = environ.split('\0')
    if (!lines.includes(marker)) continue
    const env = new Map<string, string>()
    for (const line of lines) {
      const equals = line.indexOf('=')
      if (equals > 0) env.set(line.slice(0, equals), line.slice(equals + 1))
    }
    found.push({ pid: Number(entry), env })
  }
  return found
}

/** Kills (-9) every live process marked `name=value`: what daemons killed -9 left running. */
export async function killMarkedProcesses(name: string, value: string): Promise<number> {
  const found = await markedProcesses(name, value)
  for (const proc of found) {
    try {
      process.kill(proc.pid, 'SIGKILL')
    } catch {
      // It ended between the look and the kill: nothing left to do.
    }
  }
  return found.length
}

const CLOCK_TICKS_PER_SECOND = 100

/**
 * When a process started (wall-clock ms, to the kernel's 10 ms tick), from /proc/<pid>/stat: the same clock
 * for every process, where daemons stamp jobs and instances at different points of their start.
 */
export async function processStartWallMs(pid: number): Promise<number> {
  const [stat, uptime] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile('/proc/uptime', 'utf8'),
  ])
  // Fields after the command name (which may hold spaces); starttime is field 22, the 20th after it.
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  const bootWallMs = Date.now() - Number(uptime.split(' ')[0]) * 1000
  return bootWallMs + (startTicks / CLOCK_TICKS_PER_SECOND) * 1000
}
