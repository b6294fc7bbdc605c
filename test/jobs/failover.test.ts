import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from '../../cli/client.js'
import type { JobView } from '../../src/api/types.js'
import { agreedProcesses } from '../helpers/coordinator.js'
import { listJobs, processAlive, submitJob, waitForJob } from '../helpers/jobs.js'
import {
  cleanupDaemons,
  type DaemonProcess,
  joinArgs,
  runCli,
  signalDaemon,
  spawnDaemon,
} from '../helpers/processes.js'
import { makeTempDir, removeDir } from '../helpers/temp-dir.js'
import { waitFor } from '../helpers/wait.js'

const NO_DOCKER = ['--docker-socket', '/nonexistent/docker.sock']

async function threeDaemons(prefix: string): Promise<DaemonProcess[]> {
  const first = await spawnDaemon({ name: `${prefix}1`, args: NO_DOCKER })
  const join = [...NO_DOCKER, ...joinArgs(first)]
  const rest = await Promise.all([
    spawnDaemon({ name: `${prefix}2`, args: join }),
    spawnDaemon({ name: `${prefix}3`, args: join }),
  ])
  const all = [first, ...rest]
  await agreedProcesses(all, 'three daemons to agree on a coordinator')
  return all
}

describe('jobs when nodes die', () => {
  let scratch: string
  const leftovers: number[] = []

  beforeAll(async () => {
    scratch = await makeTempDir('shoal-jobfail-')
  })
  afterAll(async () => {
    for (const pid of leftovers) if (processAlive(pid)) process.kill(pid, 'SIGKILL')
    await cleanupDaemons()
    await removeDir(scratch)
  })

  it('finishes a long job elsewhere when its node is killed, and the node, back, stops its copy', async () => {
    const procs = await threeDaemons('k')
    const pids = join(scratch, 'pids')
    // The first attempt would run a minute; a later one finishes at once.
    const script = `echo $$ >> ${pids}; if [ "$SHOAL_ATTEMPT" = 1 ]; then exec sleep 60; fi; echo done`
    const id = await submitJob(procs[0]!, '--exec', '--', 'sh', '-c', script)
    const running = await waitForJob(procs[0]!, id, 'to run', (job) => job.state === 'running')
    const victim = procs.find((proc) => proc.status.peerId === running.node)!
    const survivors = procs.filter((proc) => proc !== victim)
    const firstPid = Number(
      await waitFor(
        'the first attempt to write its pid',
        async () => (await readFile(pids, 'utf8').catch(() => '')).split('\n')[0] || undefined,
      ),
    )
    leftovers.push(firstPid)

    await signalDaemon(victim, 'SIGKILL')
    expect(processAlive(firstPid)).toBe(true) // orphaned, still running: the node died, its work did not
    const job = await waitForJob(
      survivors[0]!,
      id,
      'to succeed elsewhere',
      (view) => view.state === 'succeeded',
      60_000,
    )
    expect(job.attempt).toBeGreaterThanOrEqual(2)
    expect(job.node).not.toBe(victim.status.peerId)
    expect(job.nodeName).not.toBe(victim.name)

    // The killed node comes back on its data directory, finds the job moved, and stops the copy it left.
    // (The swarm key file lives in the first daemon's data directory, which stays even if that one was killed.)
    const rejoin = [...NO_DOCKER, ...joinArgs(procs[0]!, survivors[0]!)]
    const back = await spawnDaemon({ name: victim.name, dataDir: victim.dataDir, args: rejoin })
    await waitFor('the orphaned first attempt to be stopped', () => !processAlive(firstPid), {
      timeoutMs: 20_000,
    })
    expect(
      (
        await waitForJob(
          back,
          id,
          'to be seen as succeeded on the returning node',
          (view) => view.state === 'succeeded',
        )
      ).attempt,
    ).toBe(job.attempt)
  }, 120_000)

  it('loses nothing and leaves nothing assigned when the coordinator is killed mid-flight', async () => {
    const procs = await threeDaemons('c')
    const view = await agreedProcesses(procs, 'a coordinator')
    const coordinator = procs.find((proc) => proc.status.peerId === view.holder)!
    const others = procs.filter((proc) => proc !== coordinator)
    const file = join(scratch, 'midflight.json')
    const specs = Array.from({ length: 300 }, (_, i) => ({
      driver: 'exec',
      command: ['sleep', '0.3'],
      tags: { batch: 'midflight', n: String(i) },
    }))
    await writeFile(file, JSON.stringify(specs))
    const submit = await runCli(['job', 'submit', '-f', file, '--data-dir', others[0]!.dataDir])
    expect(submit.code, submit.stderr).toBe(0)
    const ids = submit.stdout.trim().split('\n')
    const client = createClient(others[1]!.dataDir)
    await waitFor('some jobs to finish and others to run', async () => {
      const { jobs } = await client.get<{ jobs: JobView[] }>('/v1/jobs?tag=batch=midflight')
      return jobs.some((job) => job.state === 'succeeded') && jobs.some((job) => job.state === 'pending')
    })
    await signalDaemon(coordinator, 'SIGKILL')

    const wait = await client.post<{ jobs: JobView[]; timedOut: boolean }>('/v1/jobs/wait', {
      ids,
      timeoutMs: 120_000,
    })
    expect(wait.timedOut).toBe(false)
    const states = new Map<string, number>()
    for (const job of wait.jobs) states.set(job.state, (states.get(job.state) ?? 0) + 1)
    expect(Object.fromEntries(states)).toEqual({ succeeded: 300 })
    const moved = wait.jobs.filter((job) => job.attempt >= 2)
    // Whatever the dead coordinator was running went back to pending and ran again on a survivor.
    for (const job of moved) expect(job.node).not.toBe(coordinator.status.peerId)
    // Every survivor ends with the same view (the last reports may take a gossip round or a sync to arrive).
    for (const proc of others) {
      await waitFor(
        `${proc.name} to see every job succeeded`,
        async () => (await listJobs(proc, '?tag=batch=midflight')).every((job) => job.state === 'succeeded'),
        { timeoutMs: 45_000 },
      )
    }
  }, 180_000)
})
