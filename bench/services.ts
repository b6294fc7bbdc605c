// Services (issue 20) on 5 daemon processes: 20 replicas vs 20 jobs, rescheduling after kill -9, rolling a spec change.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { type ApiClient, createClient } from '../cli/client.js'
import type { JobView, NodeView, ServiceView } from '../src/api/types.js'
import { agreedProcesses } from '../test/helpers/coordinator.js'
import {
  cleanupDaemons,
  type DaemonProcess,
  joinArgs,
  signalDaemon,
  spawnDaemon,
} from '../test/helpers/processes.js'
import { sleep, waitFor } from '../test/helpers/wait.js'
import {
  killMarkedProcesses,
  type MarkedProcess,
  markedProcesses,
  processStartWallMs,
} from './marked-processes.js'
import { daemonNodeArgs, profileArgs, spawnCluster } from './processes.js'
import { percentile, round, type Summary, summarize } from './stats.js'

const DAEMONS = 5
const COMMAND = ['sleep', '600']
/** How often a condition is polled over the socket: the resolution of every time below. */
const POLL_MS = 25
/** Every job and instance carries this in its environment, so what a killed daemon left can be found and ended. */
const MARKER = 'SHOAL_BENCH_SERVICES_RUN'
/** The goals. */
const ADD_RATIO_GOAL = 1.5
const RESCHEDULE_MARGIN_MS = 5_000
const ROLLOUT_MARGIN_MS = 2_000

export interface ServicesBenchOptions {
  /** Replicas added at once against as many job submissions. @default 20 */
  addReplicas?: number
  /** Counted add trials (after one warm-up). @default 5 */
  addTrials?: number
  /** Replicas of the service whose node is killed. @default 10 (two per node) */
  killReplicas?: number
  /** kill -9 trials. @default 10 */
  killTrials?: number
  /** Replicas of the service whose spec changes. @default 10 */
  rolloutReplicas?: number
  /** Spec changes rolled out (each one a new generation). @default 3 */
  rollouts?: number
  /** 1-replica adds that give the instance start time. @default 3 */
  startTrials?: number
}

interface Run {
  procs: DaemonProcess[]
  marker: string
  env: Record<string, string>
}

const median = (samples: readonly number[]): number =>
  percentile(
    [...samples].sort((a, b) => a - b),
    50,
  )

export async function servicesBench(options: ServicesBenchOptions = {}): Promise<unknown> {
  const marker = randomBytes(6).toString('hex')
  const env = { [MARKER]: marker }
  let procs: DaemonProcess[] = []
  try {
    procs = await spawnCluster(DAEMONS, 'sv')
    await agreedProcesses(procs, 'the cluster to agree on a coordinator', { timeoutMs: 60_000 })
    const run: Run = { procs, marker, env }
    const addVsJobs = await addAgainstJobs(run, options.addReplicas ?? 20, options.addTrials ?? 5)
    const rollout = await rolloutAfterSpecChange(
      run,
      options.rolloutReplicas ?? 10,
      options.rollouts ?? 3,
      options.startTrials ?? 3,
    )
    const reschedule = await rescheduleAfterKill(run, options.killReplicas ?? 10, options.killTrials ?? 10)
    // A CPU profile ($SHOAL_BENCH_CPU_PROF) is written on a clean exit only.
    if (profileArgs().length > 0) await Promise.all(procs.map((proc) => signalDaemon(proc, 'SIGTERM')))
    return { daemons: DAEMONS, command: COMMAND, pollMs: POLL_MS, addVsJobs, reschedule, rollout }
  } catch (err) {
    for (const proc of procs) {
      const log = await readFile(proc.logFile, 'utf8').catch(() => '')
      console.error(`--- ${proc.name} (exit ${proc.child.exitCode}):\n${log.slice(-3000)}`)
    }
    throw err
  } finally {
    await cleanupDaemons()
    // The daemons were killed -9: their instances and jobs outlive them in the spawner helper.
    await killMarkedProcesses(MARKER, marker)
  }
}

function serviceView(api: ApiClient, name: string): Promise<ServiceView> {
  return api.get<ServiceView>(`/v1/services/${name}`)
}

/** Polls the service until `done` says so, every POLL_MS; returns the view that satisfied it. */
function waitService(
  api: ApiClient,
  name: string,
  what: string,
  done: (view: ServiceView) => boolean,
  timeoutMs = 60_000,
): Promise<ServiceView> {
  return waitFor(
    `${name}: ${what}`,
    async () => {
      const view = await serviceView(api, name)
      return done(view) ? view : undefined
    },
    { timeoutMs, intervalMs: POLL_MS },
  )
}

/** Removes a service and waits until none of its processes is left anywhere. */
async function removeService(run: Run, api: ApiClient, name: string): Promise<void> {
  await api.delete(`/v1/services/${name}`)
  await waitFor(
    `${name}: every instance process to stop`,
    async () =>
      (await markedProcesses(MARKER, run.marker)).every(
        (proc) => !proc.env.get('SHOAL_INSTANCE')?.startsWith(`${name}/`),
      ),
    { timeoutMs: 60_000, intervalMs: 100 },
  )
}

/**
 * Where the time of an add (or of N submissions) went, in ms from the call: all placed on a node (services),
 * the last process started (its node's clock: one machine, one clock), and all seen ready by the entry node.
 */
interface Timing {
  ms: number
  placedMs?: number
  firstStartedMs: number
  lastStartedMs: number
}

/** When the first and last of these processes started, in ms after `wallStart` (Date.now() at the call). */
async function startSpan(
  procs: readonly MarkedProcess[],
  wallStart: number,
): Promise<Pick<Timing, 'firstStartedMs' | 'lastStartedMs'>> {
  const starts = await Promise.all(
    procs.map(async (proc) => (await processStartWallMs(proc.pid)) - wallStart),
  )
  return { firstStartedMs: Math.min(...starts), lastStartedMs: Math.max(...starts) }
}

/** `service add --replicas N` until N ready. */
async function timeServiceAdd(run: Run, api: ApiClient, name: string, replicas: number): Promise<Timing> {
  const wallStart = Date.now()
  const started = performance.now()
  let placedMs: number | undefined
  await api.post('/v1/services', { name, command: COMMAND, replicas, env: run.env })
  await waitService(api, name, `${replicas} ready`, (view) => {
    if (placedMs === undefined && view.instances.every((i) => i.node !== null)) {
      placedMs = performance.now() - started
    }
    return view.ready === replicas
  })
  const ms = performance.now() - started
  const procs = (await markedProcesses(MARKER, run.marker)).filter((proc) =>
    proc.env.get('SHOAL_INSTANCE')?.startsWith(`${name}/`),
  )
  return { ms, placedMs: placedMs ?? ms, ...(await startSpan(procs, wallStart)) }
}

/** N `job submit`s of the same command, all sent at once, until all N run; then cancelled. */
async function timeJobs(run: Run, api: ApiClient, tag: string, count: number): Promise<Timing> {
  const spec = { driver: 'exec', command: COMMAND, env: run.env, tags: { bench: tag } }
  const wallStart = Date.now()
  const started = performance.now()
  const jobs = await Promise.all(Array.from({ length: count }, () => api.post<JobView>('/v1/jobs', spec)))
  await waitFor(
    `${count} jobs tagged ${tag} to run`,
    async () => {
      const list = await api.get<{ jobs: JobView[] }>(`/v1/jobs?tag=bench=${tag}&state=running`)
      return list.jobs.length === count
    },
    { timeoutMs: 60_000, intervalMs: POLL_MS },
  )
  const ms = performance.now() - started
  const ids = new Set(jobs.map((job) => job.id))
  const procs = (await markedProcesses(MARKER, run.marker)).filter((proc) =>
    ids.has(proc.env.get('SHOAL_JOB_ID') ?? ''),
  )
  const span = await startSpan(procs, wallStart)
  await Promise.all(jobs.map((job) => api.post(`/v1/jobs/${job.id}/cancel`, {})))
  await waitFor(
    `the jobs tagged ${tag} to stop`,
    async () =>
      (await markedProcesses(MARKER, run.marker)).every(
        (proc) => !ids.has(proc.env.get('SHOAL_JOB_ID') ?? ''),
      ),
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  return { ms, ...span }
}

/** Median of one field over timings, rounded. */
function medianOf(timings: readonly Timing[], field: keyof Timing): number {
  return round(median(timings.map((timing) => timing[field] ?? Number.NaN)))
}

/** Measure 1: `service add --replicas N` to N ready, against N job submissions to N running, same daemon. */
async function addAgainstJobs(run: Run, replicas: number, trials: number): Promise<unknown> {
  // Not the coordinator: a user's CLI talks to whichever node it runs on.
  const view = await agreedProcesses(run.procs, 'a coordinator')
  const entry = run.procs.find((proc) => proc.status.peerId !== view.holder)!
  const api = createClient(entry.dataDir)
  const services: Timing[] = []
  const jobs: Timing[] = []
  // Trial −1 warms up and is not counted: whichever runs first on fresh daemons starts each node's exec
  // spawner helper (it then lingers 60 s) and meets code not yet compiled, a cost belonging to neither.
  const warmup: { serviceMs?: number; jobsMs?: number } = {}
  for (let trial = -1; trial < trials; trial++) {
    const name = `bench-add-${trial + 1}`
    // Alternate which goes first, so neither always meets a freshly cleaned-up cluster.
    const order = trial % 2 === 0 ? ['service', 'jobs'] : ['jobs', 'service']
    for (const which of order) {
      if (which === 'service') {
        const timing = await timeServiceAdd(run, api, name, replicas)
        if (trial < 0) warmup.serviceMs = round(timing.ms)
        else services.push(timing)
        await removeService(run, api, name)
      } else {
        const timing = await timeJobs(run, api, `add-${trial + 1}`, replicas)
        if (trial < 0) warmup.jobsMs = round(timing.ms)
        else jobs.push(timing)
      }
    }
  }
  const serviceMs = services.map((timing) => timing.ms)
  const jobsMs = jobs.map((timing) => timing.ms)
  const ratios = serviceMs.map((ms, i) => ms / jobsMs[i]!)
  const medianRatio = median(ratios)
  // Jobs are reported running only after 250 ms of running (RUNNING_REPORT_DELAY_MS), services at once; and
  // daemons stamp a job's startedAt before its spawn, an instance's after. The processes' own start times
  // (/proc) compare the two paths without either difference.
  const startRatios = services.map((timing, i) => timing.lastStartedMs / jobs[i]!.lastStartedMs)
  return {
    replicas,
    trials,
    enteredAt: entry.name,
    warmup,
    serviceMs: serviceMs.map(round),
    jobsMs: jobsMs.map(round),
    service: { median: round(median(serviceMs)), max: round(Math.max(...serviceMs)) },
    jobs: { median: round(median(jobsMs)), max: round(Math.max(...jobsMs)) },
    ratios: ratios.map(round),
    ratio: { median: round(medianRatio), max: round(Math.max(...ratios)) },
    goal: `service / jobs ≤ ${ADD_RATIO_GOAL}`,
    met: medianRatio <= ADD_RATIO_GOAL,
    /** The same ratio taken at the last process start (the processes' start times in /proc). */
    lastStartedRatios: startRatios.map(round),
    lastStartedRatio: { median: round(median(startRatios)), max: round(Math.max(...startRatios)) },
    /** Medians, in ms from the call: every slot placed, the last process started, all seen ready/running. */
    breakdown: {
      service: {
        placed: medianOf(services, 'placedMs'),
        firstStarted: medianOf(services, 'firstStartedMs'),
        lastStarted: medianOf(services, 'lastStartedMs'),
        ready: medianOf(services, 'ms'),
      },
      jobs: {
        firstStarted: medianOf(jobs, 'firstStartedMs'),
        lastStarted: medianOf(jobs, 'lastStartedMs'),
        running: medianOf(jobs, 'ms'),
      },
    },
  }
}

/** Measure 3: the instance start time (1-replica adds), then rolling spec changes of a service of N. */
async function rolloutAfterSpecChange(
  run: Run,
  replicas: number,
  rollouts: number,
  startTrials: number,
): Promise<unknown> {
  const view = await agreedProcesses(run.procs, 'a coordinator')
  const entry = run.procs.find((proc) => proc.status.peerId !== view.holder)!
  const api = createClient(entry.dataDir)
  const startMs: number[] = []
  for (let trial = 0; trial < startTrials; trial++) {
    const name = `bench-start-${trial}`
    startMs.push((await timeServiceAdd(run, api, name, 1)).ms)
    await removeService(run, api, name)
  }
  const instanceStartMs = median(startMs)

  const name = 'bench-roll'
  const spec = { name, command: COMMAND, replicas, env: run.env }
  await api.post('/v1/services', spec)
  await waitService(api, name, `${replicas} ready`, (v) => v.ready === replicas && v.appliedGeneration === 1)
  const rolloutMs: number[] = []
  const minReady: number[] = []
  const stale: number[] = []
  for (let change = 0; change < rollouts; change++) {
    const before = await serviceView(api, name)
    const generation = before.generation + 1
    let lowest = replicas
    const started = performance.now()
    await api.put(`/v1/services/${name}`, { ...spec, env: { ...run.env, BENCH_ROLLOUT: String(change) } })
    await waitService(api, name, `generation ${generation} applied on all`, (v) => {
      lowest = Math.min(lowest, v.ready)
      return v.generation === generation && v.appliedGeneration === generation && v.ready === replicas
    })
    rolloutMs.push(performance.now() - started)
    minReady.push(lowest)
    // Processes of an older generation still alive once all report the new one (should be none).
    const left = (await markedProcesses(MARKER, run.marker)).filter(
      (proc) =>
        proc.env.get('SHOAL_INSTANCE')?.startsWith(`${name}/`) &&
        proc.env.get('SHOAL_GENERATION') !== String(generation),
    )
    stale.push(left.length)
  }
  await removeService(run, api, name)
  const goalMs = replicas * instanceStartMs + ROLLOUT_MARGIN_MS
  return {
    replicas,
    instanceStartMs: { samples: startMs.map(round), median: round(instanceStartMs) },
    rolloutMs: rolloutMs.map(round),
    rollout: { median: round(median(rolloutMs)), max: round(Math.max(...rolloutMs)) },
    perInstanceMs: round(median(rolloutMs) / replicas),
    goal: `all applied ≤ ${replicas} × instance start + ${ROLLOUT_MARGIN_MS} ms`,
    goalMs: round(goalMs),
    ratioToGoal: { median: round(median(rolloutMs) / goalMs), max: round(Math.max(...rolloutMs) / goalMs) },
    met: Math.max(...rolloutMs) <= goalMs,
    /** The fewest instances ready at any poll during each rollout (rolling: at most one down, so ≥ N − 1). */
    minReadyDuring: minReady,
    staleProcessesAfter: stale,
  }
}

/** Instances of the service per daemon, every daemon listed. */
function perNode(procs: readonly DaemonProcess[], view: ServiceView): number[] {
  return procs.map((proc) => view.instances.filter((i) => i.node === proc.status.peerId).length)
}

/** Every instance ready, spread evenly (what balancing settles on), and one process per slot. */
async function settled(run: Run, api: ApiClient, name: string, replicas: number): Promise<boolean> {
  const view = await serviceView(api, name)
  if (view.ready !== replicas) return false
  const counts = perNode(run.procs, view)
  if (Math.max(...counts) - Math.min(...counts) > 1) return false
  const processes = (await markedProcesses(MARKER, run.marker)).filter((proc) =>
    proc.env.get('SHOAL_INSTANCE')?.startsWith(`${name}/`),
  )
  return processes.length === replicas
}

/**
 * Measure 2: kill -9 of a node (not the coordinator) running instances; time until all are ready again on the
 * survivors, and until the coordinator lists the node dead (detection, measured in the same trial).
 */
async function rescheduleAfterKill(run: Run, replicas: number, trials: number): Promise<unknown> {
  const name = 'bench-moves'
  let view = await agreedProcesses(run.procs, 'a coordinator')
  const first = createClient(run.procs[0]!.dataDir)
  await first.post('/v1/services', { name, command: COMMAND, replicas, env: run.env })
  await waitFor('the service to settle', () => settled(run, first, name, replicas), {
    timeoutMs: 90_000,
    intervalMs: 250,
  })
  const rescheduleMs: number[] = []
  const detectionMs: number[] = []
  const moved: number[] = []
  const settleMs: number[] = []
  for (let trial = 0; trial < trials; trial++) {
    view = await agreedProcesses(run.procs, 'a coordinator', { minTerm: view.term })
    const coordinator = run.procs.find((proc) => proc.status.peerId === view.holder)!
    const api = createClient(coordinator.dataDir)
    const before = await serviceView(api, name)
    const candidates = run.procs.filter(
      (proc) => proc !== coordinator && before.instances.some((i) => i.node === proc.status.peerId),
    )
    const victim = candidates[trial % candidates.length]!
    const id = victim.status.peerId
    moved.push(before.instances.filter((i) => i.node === id).length)
    // At a random phase of the probe cycle, as the failure-detection benchmark does.
    await sleep(Math.random() * 1_000)
    const killedAt = performance.now()
    await signalDaemon(victim, 'SIGKILL')
    let detectedAt: number | undefined
    await waitFor(
      'the victim’s instances ready on the survivors',
      async () => {
        const [status, nodes] = await Promise.all([
          serviceView(api, name),
          detectedAt === undefined ? api.get<NodeView[]>('/v1/nodes?all=1') : [],
        ])
        if (detectedAt === undefined && nodes.find((node) => node.id === id)?.state === 'dead') {
          detectedAt = performance.now()
        }
        return status.ready === replicas && status.instances.every((i) => i.node !== id)
      },
      { timeoutMs: 60_000, intervalMs: POLL_MS },
    )
    const doneAt = performance.now()
    rescheduleMs.push(doneAt - killedAt)
    detectionMs.push((detectedAt ?? doneAt) - killedAt)

    // Back on its data directory (same identity): it stops the copies it left, and balancing refills it.
    const index = run.procs.indexOf(victim)
    run.procs[index] = await spawnDaemon({
      name: victim.name,
      dataDir: victim.dataDir,
      args: joinArgs(run.procs[0]!, coordinator),
      nodeArgs: daemonNodeArgs(),
    })
    const restartedAt = performance.now()
    await waitFor('the service to settle after the restart', () => settled(run, api, name, replicas), {
      timeoutMs: 90_000,
      intervalMs: 250,
    })
    settleMs.push(performance.now() - restartedAt)
  }
  await removeService(run, first, name)

  const reschedule = summarize(rescheduleMs)
  const detection = summarize(detectionMs)
  const goalMs = detection.p99 + RESCHEDULE_MARGIN_MS
  return {
    replicas,
    trials,
    instancesOnVictim: moved,
    /** kill -9 → every instance ready again, none on the dead node (ms). */
    reschedule,
    /** kill -9 → the coordinator lists the node dead (ms), in the same trials. */
    detection,
    /** Per trial: reschedule − detection, what services add to detection (ms). */
    afterDetection: summarize(rescheduleMs.map((ms, i) => ms - detectionMs[i]!)) satisfies Summary,
    goal: `reschedule p99 ≤ detection p99 + ${RESCHEDULE_MARGIN_MS} ms`,
    goalMs: round(goalMs),
    met: reschedule.p99 <= goalMs,
    /** The node back → instances spread evenly again, one process per slot (ms). */
    settleAfterRestartMs: summarize(settleMs),
  }
}
