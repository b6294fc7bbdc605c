// Draining and labelling nodes at runtime from any node's CLI: placement honours it, services move, it survives a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeView } from '../../src/api/types.js'
import { listJobs, submitJob, waitForJob } from '../helpers/jobs.js'
import { metricSamples } from '../helpers/metrics.js'
import {
  cleanupDaemons,
  cliJson,
  type DaemonProcess,
  joinArgs,
  runCli,
  signalDaemon,
  spawnDaemon,
} from '../helpers/processes.js'
import { waitFor } from '../helpers/wait.js'

/** The node `name` as `observer` lists it. */
async function nodeAs(observer: DaemonProcess, name: string): Promise<NodeView> {
  const nodes = await cliJson<NodeView[]>(observer.dataDir, 'node', 'list', '--all')
  return nodes.find((node) => node.name === name)!
}

describe('node drain, undrain and label at runtime', () => {
  let a: DaemonProcess
  let b: DaemonProcess
  let c: DaemonProcess

  beforeAll(async () => {
    // Only alpha coordinates: the tests restart beta, never the coordinator.
    a = await spawnDaemon({ name: 'alpha', args: ['--label', 'svc=no'] })
    const join = joinArgs(a)
    ;[b, c] = await Promise.all([
      spawnDaemon({ name: 'beta', args: [...join, '--label', 'svc=yes', '--no-coordinator'] }),
      spawnDaemon({ name: 'gamma', args: [...join, '--label', 'svc=yes', '--no-coordinator'] }),
    ])
    await waitFor('three alive nodes seen from alpha', async () => {
      const nodes = await cliJson<NodeView[]>(a.dataDir, 'node', 'list')
      return nodes.length === 3 && nodes.every((node) => node.state === 'alive') ? true : undefined
    })
  })
  afterAll(cleanupDaemons)

  it('sets and removes a label of another node; constraints follow at once', async () => {
    const set = await runCli(['node', 'label', 'gamma', 'gpu=big', 'svc-', '--data-dir', a.dataDir])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toContain('gamma: labels changed; labels gpu=big')
    await waitFor('beta to see gamma relabelled', async () => {
      const gamma = await nodeAs(b, 'gamma')
      return gamma.labels.gpu === 'big' && !('svc' in gamma.labels) ? true : undefined
    })
    const id = await submitJob(a, '--constraint', 'gpu=big', '--exec', 'true')
    const done = await waitForJob(a, id, 'to succeed', (job) => job.state === 'succeeded')
    expect(done.nodeName).toBe('gamma')

    const back = await runCli(['node', 'label', 'gamma', 'gpu-', 'svc=yes', '--data-dir', b.dataDir])
    expect(back.code, back.stderr).toBe(0)
    expect((await nodeAs(a, 'gamma')).labels).toEqual({ svc: 'yes' })
  })

  it('refuses a malformed label change and an unknown node with their codes', async () => {
    const bad = await runCli(['node', 'label', 'gamma', 'novalue', '--data-dir', a.dataDir])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('[SHOAL_INVALID_FLAG]')
    const nobody = await runCli(['node', 'drain', 'nobody', '--data-dir', a.dataDir])
    expect(nobody.code).toBe(1)
    expect(nobody.stderr).toContain('[SHOAL_NODE_NOT_FOUND]')
  })

  it('places nothing new on a drained node, moves its service, lets its batch job finish there', async () => {
    const service = await submitJob(
      a,
      '--constraint',
      'svc=yes',
      '--restart',
      'always',
      '--exec',
      'sleep',
      '600',
    )
    const running = await waitForJob(a, service, 'to run', (job) => job.state === 'running')
    const [home, other] = running.nodeName === 'beta' ? [b, c] : [c, b]
    await runCli(['node', 'label', home.name, 'pin=here', '--data-dir', a.dataDir])
    await waitFor(`${home.name} labelled`, async () =>
      (await nodeAs(a, home.name)).labels.pin === 'here' ? true : undefined,
    )
    const batch = await submitJob(a, '--constraint', 'pin=here', '--exec', 'sleep', '3')
    await waitForJob(a, batch, 'to run', (job) => job.state === 'running')

    const drained = await runCli(['node', 'drain', home.name, '--data-dir', a.dataDir])
    expect(drained.code, drained.stderr).toBe(0)
    expect(drained.stdout).toContain(`${home.name}: drained`)
    await waitFor(`${other.name} to see ${home.name} drained`, async () =>
      (await nodeAs(other, home.name)).drained ? true : undefined,
    )
    const moved = await waitForJob(
      a,
      service,
      `to move to ${other.name}`,
      (job) => job.state === 'running' && job.nodeName === other.name,
    )
    expect(moved.attempt).toBe(2)
    const movedCount = await metricSamples(a.status.httpUrl, 'shoal_scheduler_moved_jobs_total', {
      reason: 'drained',
    })
    expect(movedCount).toEqual([1])
    // The batch job was not moved: it ends where it ran.
    const finished = await waitForJob(a, batch, 'to succeed', (job) => job.state === 'succeeded')
    expect([finished.nodeName, finished.attempt]).toEqual([home.name, 1])

    // Ten jobs any node could run: none goes to the drained one.
    const ids = await Promise.all(Array.from({ length: 10 }, () => submitJob(a, '--exec', 'true')))
    for (const id of ids) {
      const job = await waitForJob(a, id, 'to succeed', (view) => view.state === 'succeeded')
      expect(job.nodeName).not.toBe(home.name)
    }
    // A job only the drained node could run waits, and says why; undrained, it runs there.
    const pinned = await submitJob(a, '--constraint', 'pin=here', '--exec', 'true')
    const waiting = await waitForJob(a, pinned, 'to wait with a reason', (job) => job.reason !== null)
    expect(waiting.state).toBe('pending')
    expect(waiting.reason).toBe('every node that could run it is drained (shoal node undrain NAME)')
    await runCli(['node', 'undrain', home.name, '--data-dir', other.dataDir])
    const ran = await waitForJob(a, pinned, 'to succeed', (job) => job.state === 'succeeded')
    expect(ran.nodeName).toBe(home.name)
    await runCli(['job', 'cancel', service, '--data-dir', a.dataDir])
  })

  it('keeps a node drained across its restart, and undrain lets work go there again', async () => {
    const beta = await nodeAs(a, 'beta')
    if (!beta.drained) await runCli(['node', 'drain', 'beta', '--data-dir', a.dataDir])
    await signalDaemon(b, 'SIGTERM')
    b = await spawnDaemon({ name: 'beta', dataDir: b.dataDir, args: [...joinArgs(a), '--no-coordinator'] })
    await waitFor('beta back, still drained', async () => {
      const view = await nodeAs(a, 'beta')
      return view.state === 'alive' && view.drained && view.startedAt !== beta.startedAt ? true : undefined
    })
    const undrained = await runCli(['node', 'undrain', 'beta', '--data-dir', c.dataDir])
    expect(undrained.code, undrained.stderr).toBe(0)
    expect(undrained.stdout).toContain('beta: undrained')
    await runCli(['node', 'label', 'beta', 'only=beta', '--data-dir', c.dataDir])
    const id = await submitJob(a, '--constraint', 'only=beta', '--exec', 'true')
    expect((await waitForJob(a, id, 'to succeed', (job) => job.state === 'succeeded')).nodeName).toBe('beta')
    expect((await listJobs(a)).length).toBeGreaterThan(0)
  })
})
