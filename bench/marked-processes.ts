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
