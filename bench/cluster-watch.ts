// Watches a cluster of daemon processes during a benchmark: coordinator changes, event-loop stalls, role log lines.
import { readFile } from 'node:fs/promises'
import { createClient } from '../cli/client.js'
import type { CoordinatorView } from '../src/api/types.js'
import { metricSamples } from '../test/helpers/metrics.js'
import type { DaemonProcess } from '../test/helpers/processes.js'
import { sleep } from '../test/helpers/wait.js'
import { round } from './stats.js'

export interface RoleChange {
  atSeconds: number
  term: number
  holder: string | null
}

/**
 * Every second: one daemon's view of the coordinator (each change of term, with when it was seen) and the
 * longest event-loop stall of every daemon since the last look (prom-client resets it on each read).
 */
export function watchCluster(
  procs: readonly DaemonProcess[],
  since: number,
): {
  stop(): Promise<{ roleChanges: RoleChange[]; longestStalls: Array<{ atSeconds: number; ms: number }> }>
} {
  const roleChanges: RoleChange[] = []
  const longestStalls = procs.map(() => ({ atSeconds: 0, ms: 0 }))
  let term: number | undefined
  let running = true
  const loop = (async () => {
    while (running) {
      const atSeconds = round((performance.now() - since) / 1000)
      const view = await createClient(procs[0]!.dataDir)
        .get<CoordinatorView>('/v1/coordinator')
        .catch(() => undefined)
      if (view !== undefined && view.term !== term) {
        if (term !== undefined) roleChanges.push({ atSeconds, term: view.term, holder: view.holderName })
        term = view.term
      }
      const stalls = await Promise.all(
        procs.map((proc) =>
          metricSamples(proc.status.httpUrl, 'nodejs_eventloop_lag_max_seconds').catch(() => [0]),
        ),
      )
      stalls.forEach((samples, i) => {
        const ms = Math.round(Math.max(0, ...samples) * 1000)
        if (ms > longestStalls[i]!.ms) longestStalls[i] = { atSeconds, ms }
      })
      await sleep(1_000)
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return { roleChanges, longestStalls }
    },
  }
}

/** What the daemons logged about the coordinator role during the run (claims, step-downs, stalls). */
export async function coordinatorLog(procs: readonly DaemonProcess[], since: number): Promise<string[]> {
  const startedAt = Date.now() - (performance.now() - since)
  const lines: Array<[number, string]> = []
  for (const proc of procs) {
    for (const line of (await readFile(proc.logFile, 'utf8')).split('\n')) {
      if (!/coordinator|stalled/.test(line)) continue
      const entry = JSON.parse(line) as { time: string; msg: string; stalledMs?: number }
      const time = Date.parse(entry.time)
      if (time < startedAt) continue
      const at = ((time - startedAt) / 1000).toFixed(2)
      lines.push([
        time,
        `${at}s ${proc.name}: ${entry.msg}${entry.stalledMs ? ` (${entry.stalledMs} ms)` : ''}`,
      ])
    }
  }
  return lines
    .sort((a, b) => a[0] - b[0])
    .map(([, text]) => text)
    .slice(0, 30)
}
