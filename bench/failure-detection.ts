// Failure detection: kill -9 of a daemon process until every survivor lists it dead; and no false deaths under load.
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { membershipConstants } from '../src/membership/index.js'
import {
  cleanupDaemons,
  type DaemonProcess,
  joinArgs,
  signalDaemon,
  spawnDaemon,
} from '../test/helpers/processes.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import { nodesOf, spawnCluster } from './processes.js'
import { type Summary, summarize } from './stats.js'

export interface DetectionResult {
  trials: number
  /** kill -9 → every survivor lists the node dead (ms). */
  detection: Summary
  /** kill -9 → every survivor lists the node suspect or dead (ms). */
  suspicion: Summary
  /** The probe interval, the natural unit of detection time for a silent node (a kill is seen at once). */
  probeIntervalMs: number
}

export async function failureDetection(trials = 10): Promise<DetectionResult> {
  const [a, b, c] = await spawnCluster(3, 'fd')
  let victim: DaemonProcess = c!
  const survivors = [a!, b!]
  const detection: number[] = []
  const suspicion: number[] = []
  try {
    for (let trial = 0; trial < trials; trial++) {
      const id = victim.status.peerId
      await waitFor('the victim alive everywhere', async () => {
        for (const survivor of survivors) {
          if ((await nodesOf(survivor)).find((node) => node.id === id)?.state !== 'alive') return false
        }
        return true
      })
      // Kill at a random phase of the probe cycle.
      await sleep(Math.random() * 1_000)
      const killed = performance.now()
      await signalDaemon(victim, 'SIGKILL')
      let suspectedAt: number | undefined
      await waitFor(
        'every survivor to list the victim dead',
        async () => {
          const states = await Promise.all(
            survivors.map(async (s) => (await nodesOf(s)).find((node) => node.id === id)?.state),
          )
          if (suspectedAt === undefined && states.every((state) => state === 'suspect' || state === 'dead')) {
            suspectedAt = performance.now()
          }
          return states.every((state) => state === 'dead')
        },
        { timeoutMs: 30_000, intervalMs: 25 },
      )
      detection.push(performance.now() - killed)
      suspicion.push((suspectedAt ?? performance.now()) - killed)
      victim = await spawnDaemon({
        name: victim.name,
        dataDir: victim.dataDir,
        args: joinArgs(a!),
      })
    }
    return {
      trials,
      detection: summarize(detection),
      suspicion: summarize(suspicion),
      probeIntervalMs: membershipConstants.PROBE_INTERVAL_MS,
    }
  } finally {
    await cleanupDaemons()
  }
}

export interface FalseDeathResult {
  minutes: number
  busyProcesses: number
  /** Times any node declared another dead while every daemon was running. */
  falseDeaths: number
  /** Times any node suspected another (a suspicion that a probe then cleared, or a refutation). */
  suspicions: number
}

/** Runs a three-node cluster for `minutes` with every core kept busy, counting dead (and suspect) verdicts. */
export async function falseDeaths(minutes: number): Promise<FalseDeathResult> {
  const cluster = await spawnCluster(3, 'busy')
  const burners = Array.from({ length: 2 }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  )
  const controllers: AbortController[] = []
  let deaths = 0
  let suspicions = 0
  try {
    for (const proc of cluster) {
      const controller = new AbortController()
      controllers.push(controller)
      const res = await fetch(`${proc.status.httpUrl}/v1/events?kinds=none`, { signal: controller.signal })
      const reader = res.body!.getReader()
      const decoder = new TextDecoder()
      void (async () => {
        let buffer = ''
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
          if (done) return
          buffer += decoder.decode(value)
          let end = buffer.indexOf('\n\n')
          while (end >= 0) {
            const event = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            if (event.startsWith('event: node')) {
              const state = (JSON.parse(event.split('data: ')[1]!) as { state: string }).state
              if (state === 'dead') deaths++
              if (state === 'suspect') suspicions++
            }
            end = buffer.indexOf('\n\n')
          }
        }
      })()
    }
    await sleep(minutes * 60_000)
    return { minutes, busyProcesses: burners.length, falseDeaths: deaths, suspicions }
  } finally {
    for (const controller of controllers) controller.abort()
    for (const burner of burners) burner.kill('SIGKILL')
    await cleanupDaemons()
  }
}
