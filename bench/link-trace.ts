// Samples the lab switch's port counters (and the daemons' CPU) while a pull runs: which links sat idle, and why.
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import type { NetnsLab } from '../scripts/netns-lab.js'
import { cpuSeconds } from './processes.js'

const run = promisify(execFile)
const SAMPLE_MS = 500

interface PortStats {
  ifname: string
  stats64?: { rx: { bytes: number }; tx: { bytes: number } }
}

/**
 * One sample: seconds since the start, per host the bytes it has received and sent so far, and the CPU seconds
 * the daemons have used so far (all of them together).
 */
type Sample = [number, Record<string, { down: number; up: number }>, number]

/** Starts sampling; the returned function stops and writes the samples (host down = its port's tx) to `file`. */
export function startLinkTrace(lab: NetnsLab, file: string, pids: readonly number[]): () => Promise<void> {
  const hostOfPort = new Map(lab.hosts.map((host) => [host.port, host.name]))
  const samples: Sample[] = []
  const started = performance.now()
  let stopped = false
  const sample = async (): Promise<void> => {
    const { stdout } = await run('ip', ['-n', lab.switchNs, '-s', '-j', 'link', 'show'])
    const row: Sample[1] = {}
    for (const port of JSON.parse(stdout) as PortStats[]) {
      const host = hostOfPort.get(port.ifname.split('@')[0]!)
      if (host !== undefined && port.stats64 !== undefined) {
        row[host] = { down: port.stats64.tx.bytes, up: port.stats64.rx.bytes }
      }
    }
    const cpu = await Promise.all(pids.map((pid) => cpuSeconds(pid).catch(() => 0)))
    samples.push([Math.round(performance.now() - started) / 1000, row, cpu.reduce((a, b) => a + b, 0)])
  }
  const loop = (async () => {
    while (!stopped) {
      await sample()
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS))
    }
  })()
  return async () => {
    stopped = true
    await loop
    await sample()
    await writeFile(file, JSON.stringify(samples))
  }
}
