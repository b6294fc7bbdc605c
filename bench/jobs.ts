// 10,000 no-op exec jobs on five daemons against the same commands under `xargs -P <cores>`; then lost work after kill -9.
import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createClient } from '../cli/client.js'
import type { JobView } from '../src/api/types.js'
import { defaultHelperKind } from '../src/jobs/drivers/spawner-link.js'
import { agreedProcesses } from '../test/helpers/coordinator.js'
import { metricSamples } from '../test/helpers/metrics.js'
import { cleanupDaemons, type DaemonProcess, signalDaemon } from '../test/helpers/processes.js'
import { makeTempDir, removeDir } from '../test/helpers/temp-dir.js'
import { waitFor } from '../test/helpers/wait.js'
import { coordinatorLog, watchCluster } from './cluster-watch.js'
import { cpuOfProcessAndChildren, profileArgs, spawnCluster } from './processes.js'
import { round } from './stats.js'
import { startSystemProfile } from './system-profile.js'

const run = promisify(execFile)

/** A metric's value summed over the daemons' /metrics (and over labels). */
async function sumMetric(procs: readonly DaemonProcess[], name: string): Promise<number> {
  const values = await Promise.all(procs.map((proc) => metricSamples(proc.status.httpUrl, name)))
  return values.flat().reduce((a, b) => a + b, 0)
}

/** The largest number of jobs that ran at once on one node, from their start and end times. */
function peakConcurrency(jobs: readonly JobView[]): number {
  const events: Array<[number, number]> = []
  for (const job of jobs) {
    events.push([Date.parse(job.startedAt!), 1], [Date.parse(job.finishedAt!), -1])
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let peak = 0
  for (const [, delta] of events) {
    now += delta
    peak = Math.max(peak, now)
  }
  return peak
}

async function xargsBaseline(count: number, cores: number, dir: string): Promise<number> {
  const list = join(dir, 'commands.txt')
  await writeFile(list, 'true\n'.repeat(count))
  const started = performance.now()
  await run('sh', ['-c', `xargs -P ${cores} -n 1 -a ${list} -I{} true`], { maxBuffer: 1024 * 1024 })
  return (performance.now() - started) / 1000
}

export async function jobsBench(count: number, daemons: number): Promise<unknown> {
  const cores = os.availableParallelism()
  const dir = await makeTempDir('shoal-benchjobs-')
  let cluster: DaemonProcess[] | undefined
  try {
    const baselineSeconds = await xargsBaseline(count, cores, dir)
    const procs = await spawnCluster(daemons, 'jb')
    cluster = procs
    const view = await agreedProcesses(procs, 'the cluster to agree on a coordinator')
    const cpuBefore = await Promise.all(procs.map((proc) => cpuOfProcessAndChildren(proc.pid)))
    const gossipBefore = await sumMetric(procs, 'shoal_gossip_messages_out_total')
    const coordinator = procs.find((proc) => proc.status.peerId === view.holder)!

    // Submitted in bulk, a share to each daemon at once.
    const share = Math.ceil(count / daemons)
    const stopSystemProfile = await startSystemProfile()
    const started = performance.now()
    const watch = watchCluster(procs, started)
    const submitted = await Promise.all(
      procs.map((proc, i) => {
        const specs = Array.from({ length: Math.min(share, count - i * share) }, () => ({
          driver: 'exec',
          command: ['true'],
        }))
        return createClient(proc.dataDir).post<{ jobs: JobView[] }>('/v1/jobs', specs)
      }),
    )
    const submitSeconds = (performance.now() - started) / 1000
    // Each daemon waits for the jobs it took: all of them finished is the end.
    const waits = await Promise.all(
      procs.map((proc, i) =>
        createClient(proc.dataDir).post<{ jobs: JobView[]; timedOut: boolean }>('/v1/jobs/wait', {
          ids: submitted[i]!.jobs.map((job) => job.id),
          timeoutMs: 30 * 60_000,
        }),
      ),
    )
    const endToEndSeconds = (performance.now() - started) / 1000
    await stopSystemProfile()
    const { roleChanges, longestStalls } = await watch.stop()
    const wait = { jobs: waits.flatMap((w) => w.jobs) }
    const succeeded = wait.jobs.filter((job) => job.state === 'succeeded').length
    const notSucceeded: Record<string, number> = {}
    for (const job of wait.jobs) {
      if (job.state === 'succeeded') continue
      const why = `${job.state}: ${job.reason ?? ''}`
      notSucceeded[why] = (notSucceeded[why] ?? 0) + 1
    }

    // Helpers started by the daemons (the exec spawner) count as theirs; the jobs themselves do not.
    const cpuAfter = await Promise.all(procs.map((proc) => cpuOfProcessAndChildren(proc.pid)))
    const daemonCpuSeconds = cpuAfter.map(
      (cpu, i) => cpu.own + cpu.children - cpuBefore[i]!.own - cpuBefore[i]!.children,
    )
    const spawnerCpuSeconds = cpuAfter.reduce((sum, cpu, i) => sum + cpu.children - cpuBefore[i]!.children, 0)
    const gossipMessages = (await sumMetric(procs, 'shoal_gossip_messages_out_total')) - gossipBefore
    // Summed over the daemons: under load the role may move (the term says how often it did).
    const placements = await sumMetric(procs, 'shoal_scheduler_placements_total')
    const passSeconds = await sumMetric(procs, 'shoal_scheduler_pass_seconds_total')
    // Attempts that were queued ahead on a full node and waited there for a free slot.
    const waitedOnNode = await sumMetric(procs, 'shoal_jobs_waited_for_room_total')
    const termAfter = (await agreedProcesses(procs, 'a coordinator after the run')).term
    const byNode = new Map<string, JobView[]>()
    for (const job of wait.jobs) byNode.set(job.nodeName!, [...(byNode.get(job.nodeName!) ?? []), job])
    const perNode = Object.fromEntries([...byNode].map(([name, jobs]) => [name, jobs.length]))
    const counts = [...byNode.values()].map((jobs) => jobs.length)
    // Each job asks for 0.1 CPU (the default) and each node offers its cores: the most that may run at once.
    const allowedPerNode = cores * 10
    const peaks = Object.fromEntries([...byNode].map(([name, jobs]) => [name, peakConcurrency(jobs)]))
    const overCommits = Object.values(peaks).filter((peak) => peak > allowedPerNode).length

    const dump = process.env.SHOAL_BENCH_JOBS_DUMP
    if (dump !== undefined) await writeFile(dump, JSON.stringify(wait.jobs))
    if (profileArgs().length > 0) {
      // A profile is written on a clean exit only; the lost-work measure is skipped.
      await Promise.all(procs.map((proc) => signalDaemon(proc, 'SIGTERM')))
    }
    const roleLog = await coordinatorLog(procs, started)
    const lost = profileArgs().length > 0 ? 'skipped while profiling' : await lostWork(procs, coordinator)
    return {
      jobs: count,
      daemons,
      cores,
      // The exec driver's spawning helper the daemons used (they inherit this environment).
      spawner: defaultHelperKind(),
      baseline: { tool: `xargs -P ${cores}`, seconds: round(baselineSeconds) },
      submitSeconds: round(submitSeconds),
      submissionRatePerSecond: Math.round(count / submitSeconds),
      endToEndSeconds: round(endToEndSeconds),
      endToEndRatio: round(endToEndSeconds / baselineSeconds),
      succeeded,
      notSucceeded,
      placements,
      coordinatorTerms: { before: view.term, after: termAfter },
      roleChanges,
      roleLog,
      longestEventLoopStalls: Object.fromEntries(procs.map((proc, i) => [proc.name, longestStalls[i]])),
      daemonCpuSeconds: daemonCpuSeconds.map(round),
      daemonCpuMsPerJob: round((daemonCpuSeconds.reduce((sum, cpu) => sum + cpu, 0) * 1000) / count),
      // Of that, the exec spawner helpers (the processes that start the jobs), per job.
      spawnerCpuMsPerJob: round((spawnerCpuSeconds * 1000) / count),
      gossipMessagesPublished: gossipMessages,
      placementsPerSchedulingSecond: Math.round(placements / passSeconds),
      placementsPerWallSecond: Math.round(placements / endToEndSeconds),
      perNode,
      busiestOverLeastBusy: round(Math.max(...counts) / Math.min(...counts)),
      peakConcurrentPerNode: peaks,
      allowedPerNode,
      overCommits,
      waitedOnNode,
      lostWork: lost,
    }
  } catch (err) {
    for (const proc of cluster ?? ([] as DaemonProcess[])) {
      const log = await readFile(proc.logFile, 'utf8').catch(() => '')
      const exited = proc.child.exitCode
      const crash = log.indexOf('Error:')
      console.error(
        `--- ${proc.name} (exit ${exited}):\n${crash >= 0 ? log.slice(crash - 200, crash + 3000) : ''}`,
      )
    }
    throw err
  } finally {
    await cleanupDaemons()
    await removeDir(dir)
  }
}

/** Kills (-9) a node other than the coordinator that runs long jobs; times until they all run elsewhere. */
async function lostWork(cluster: DaemonProcess[], coordinator: DaemonProcess): Promise<unknown> {
  const client = createClient(coordinator.dataDir)
  const specs = Array.from({ length: 20 }, () => ({
    driver: 'exec',
    command: ['sleep', '120'],
    tags: { bench: 'lost' },
  }))
  const { jobs } = await client.post<{ jobs: JobView[] }>('/v1/jobs', specs)
  const running = await waitFor(
    'the long jobs to run',
    async () => {
      const list = await client.get<{ jobs: JobView[] }>('/v1/jobs?tag=bench=lost&state=running')
      return list.jobs.length === jobs.length ? list.jobs : undefined
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  )
  const victim = cluster.find(
    (proc) => proc !== coordinator && running.some((job) => job.node === proc.status.peerId),
  )!
  const theirs = running.filter((job) => job.node === victim.status.peerId).map((job) => job.id)
  const killedAt = performance.now()
  await signalDaemon(victim, 'SIGKILL')
  await waitFor(
    'the dead node’s jobs to run elsewhere',
    async () => {
      const views = await Promise.all(theirs.map((id) => client.get<JobView>(`/v1/jobs/${id}`)))
      return views.every((job) => job.state === 'running' && job.node !== victim.status.peerId)
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  )
  const seconds = (performance.now() - killedAt) / 1000
  for (const job of jobs) await client.post(`/v1/jobs/${job.id}/cancel`, {}).catch(() => undefined)
  // A daemon killed at the end leaves its jobs running (a restart would stop them): all must have ended first.
  await waitFor(
    'the long jobs to be cancelled',
    async () => {
      const views = await Promise.all(jobs.map((job) => client.get<JobView>(`/v1/jobs/${job.id}`)))
      return views.every((job) => job.state === 'cancelled')
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  ).catch(() => undefined)
  await killJobProcesses(new Set(jobs.map((job) => job.id)))
  return { jobsOnDeadNode: theirs.length, secondsUntilRunningElsewhere: round(seconds) }
}

/** Kills the processes a killed daemon left running for these jobs (found by the job id in their environment). */
async function killJobProcesses(ids: ReadonlySet<string>): Promise<void> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '')
    const id = /(?:^|\0)SHOAL_JOB_ID=(j[0-9a-f]{16})(?:\0|$)/.exec(environ)?.[1]
    if (id !== undefined && ids.has(id)) process.kill(Number(entry), 'SIGKILL')
  }
}
