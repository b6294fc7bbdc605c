// A node runs no more than its resources allow: work queued ahead, and placements that overlap, wait on it for room.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Admission } from '../../src/jobs/admission.js'
import type { AssignValue, RunValue } from '../../src/jobs/records.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { newIdentity } from '../helpers/keys.js'
import { metric } from '../helpers/metrics.js'
import { waitFor } from '../helpers/wait.js'

describe('admission on the node that runs the work', () => {
  let node: TestNode
  beforeAll(async () => {
    // A short start limit: work waiting for room on its node must not count as late.
    node = await startNode({ name: 'adm0', tuning: { jobs: { startTimeoutMs: 1_000 } } })
  })
  afterAll(async () => destroyNodes([node]))

  /** An assignment of a job's first attempt to a node (this one by default), as a coordinator makes it. */
  const assignedHere = (id: string, to = node.daemon.peerId): readonly [string, AssignValue] => [
    id,
    {
      attempt: 1,
      generation: 0,
      phase: 'assigned',
      node: to,
      outcome: null,
      reason: null,
      failures: 0,
      retryAt: null,
      at: Date.now(),
    },
  ]
  /** The records a coordinator writes for these assignments. */
  const written = (assignments: ReadonlyArray<readonly [string, AssignValue]>) =>
    node.daemon.jobs.book.assignmentWrites(assignments)

  it('starts only what fits beside what runs, and the rest as room frees, first come first started', async () => {
    const { term } = await agreedCoordinator([node])
    const { jobs, membership, coordinator } = node.daemon
    // Each job asks for the whole node: one fits at a time.
    const cpu = membership.self().resources.cpus
    const { jobs: submitted } = await jobs.submit(
      [0, 1, 2].map((i) => ({
        driver: 'exec',
        command: ['sleep', '1.5'],
        resources: { cpu },
        submissionId: `adm-${i}`,
      })),
    )
    const ids = submitted.map((job) => job.id)
    const pending = await waitFor('the scheduler to place one and keep two waiting', () => {
      const waiting = ids.filter((id) => jobs.view(id).state === 'pending')
      return waiting.length === 2 ? waiting : undefined
    })
    // What a second coordinator around a handover could write: the two waiting jobs, on this node as well.
    await coordinator.writeAsCoordinator(term, written(pending.map((id) => assignedHere(id))))

    const waited = await jobs.wait(ids, 30_000)
    expect(waited.jobs.map((job) => job.state)).toEqual(['succeeded', 'succeeded', 'succeeded'])
    expect(await metric(node, 'shoal_jobs_waited_for_room_total')).toBe(2)
    // Never two at once: each started once the one before it had ended, the overlapping two in the order given.
    const runs = ids.map((id) => ({ id, run: jobs.book.run(id, 1)! }))
    runs.sort((a, b) => a.run.startedAt! - b.run.startedAt!)
    expect(runs.slice(1).map(({ id }) => id)).toEqual(pending)
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.run.startedAt!).toBeGreaterThanOrEqual(runs[i - 1]!.run.finishedAt!)
    }
  })

  it('cancels a job that waits for room without ever starting it', async () => {
    const { term } = await agreedCoordinator([node])
    const { jobs, membership, coordinator } = node.daemon
    const cpu = membership.self().resources.cpus
    const { jobs: submitted } = await jobs.submit(
      [0, 1].map((i) => ({
        driver: 'exec',
        command: ['sleep', '1'],
        resources: { cpu },
        submissionId: `adm-c${i}`,
      })),
    )
    const ids = submitted.map((job) => job.id)
    const [waiting] = await waitFor('one placed and one waiting', () => {
      const left = ids.filter((id) => jobs.view(id).state === 'pending')
      return left.length === 1 ? left : undefined
    })
    const waitsBefore = await metric(node, 'shoal_jobs_waited_for_room_total')
    await coordinator.writeAsCoordinator(term, written([assignedHere(waiting!)]))
    await waitFor(
      'it to wait for room',
      async () => (await metric(node, 'shoal_jobs_waited_for_room_total')) > waitsBefore,
    )
    await jobs.cancel(waiting!)
    const ended = (await jobs.wait(ids, 30_000)).jobs
    expect(ended.find((job) => job.id !== waiting)!.state).toBe('succeeded')
    expect(ended.find((job) => job.id === waiting)).toMatchObject({
      state: 'cancelled',
      reason: 'cancelled before it started',
    })
    expect(jobs.book.run(waiting!, 1)!.startedAt).toBeNull()
  })

  it('still moves an assignment its node never starts though it had room there, after the start limit', async () => {
    const { term } = await agreedCoordinator([node])
    const { jobs, coordinator } = node.daemon
    const movedBefore = await metric(node, 'shoal_scheduler_moved_jobs_total', { reason: 'not-started' })
    // It waits for a node labelled host=nowhere (there is none), and is assigned to a node that never starts it.
    const {
      jobs: [job],
    } = await jobs.submit([{ driver: 'exec', command: ['true'], constraints: { host: 'nowhere' } }])
    const ghost = (await newIdentity()).peerId
    // The scheduler first writes why it waits; the assignment below must come after that, or it is replaced.
    await waitFor('the scheduler to say why it waits', () =>
      jobs.view(job!.id).reason === null ? undefined : true,
    )
    await coordinator.writeAsCoordinator(term, written([assignedHere(job!.id, ghost)]))
    const moved = await waitFor('it to be moved', () => {
      const view = jobs.view(job!.id)
      return view.attempt === 2 ? view : undefined
    })
    expect(moved.state).toBe('pending')
    expect(await metric(node, 'shoal_scheduler_moved_jobs_total', { reason: 'not-started' })).toBe(
      movedBefore + 1,
    )
    await jobs.cancel(job!.id)
  })

  // Last here: it teaches the coordinator that jobs are short, and it then queues whole-node jobs ahead too.
  it('queues short jobs ahead on a full node, where they start as slots free, never more at once than fit', async () => {
    await agreedCoordinator([node])
    const { jobs, membership } = node.daemon
    // Four fit at once.
    const cpu = membership.self().resources.cpus / 4
    const waitsBefore = await metric(node, 'shoal_jobs_waited_for_room_total')
    const { jobs: submitted } = await jobs.submit(
      Array.from({ length: 100 }, () => ({ driver: 'exec', command: ['true'], resources: { cpu } })),
    )
    const ids = submitted.map((job) => job.id)
    const ended = await jobs.wait(ids, 60_000)
    expect(ended.jobs.every((job) => job.state === 'succeeded')).toBe(true)
    // Once the coordinator had seen how short they are, it placed more than fit; they waited on the node.
    expect(await metric(node, 'shoal_jobs_waited_for_room_total')).toBeGreaterThan(waitsBefore)
    const runs = ids.map((id) => jobs.book.run(id, 1)!)
    expect(peakConcurrency(runs)).toBeLessThanOrEqual(4)
  })
})

describe('the admission queue', () => {
  const node = { cpuMillis: 2_000, memory: 1_000, disk: 1_000, gpu: 0 }
  const cpu = (millis: number) => ({ cpuMillis: millis, memory: 0, disk: 0, gpu: 0 })

  it('admits what fits, queues the rest in order, and starts them as room frees', () => {
    const admission = new Admission<string>(() => node)
    expect(admission.admit('a', cpu(1_500), 'a')).toBe(true)
    expect(admission.admit('b', cpu(1_000), 'b')).toBe(false)
    // Behind a waiting one, even a job that would fit waits: first come, first started.
    expect(admission.admit('c', cpu(100), 'c')).toBe(false)
    expect(admission.waiting()).toEqual(['b', 'c'])
    expect(admission.release(cpu(1_500))).toEqual(['b', 'c'])
    expect(admission.waiting()).toEqual([])
  })

  it('never leaves work waiting while nothing runs, and admits everything while the capacity is unknown', () => {
    let capacity: typeof node | undefined = node
    const admission = new Admission<string>(() => capacity)
    // Larger than the node (it shrank after the placement): runs alone rather than never.
    expect(admission.admit('huge', cpu(3_000), 'huge')).toBe(true)
    expect(admission.admit('next', cpu(1_000), 'next')).toBe(false)
    expect(admission.withdraw('next')).toBe(true)
    expect(admission.release(cpu(3_000))).toEqual([])
    capacity = undefined
    expect(admission.admit('x', cpu(5_000), 'x')).toBe(true)
    expect(admission.admit('y', cpu(5_000), 'y')).toBe(true)
  })
})

/** The most attempts that ran at once, from their start and end times (an end before a start at the same ms). */
function peakConcurrency(runs: readonly RunValue[]): number {
  const events = runs.flatMap((run) => [
    [run.startedAt!, 1],
    [run.finishedAt!, -1],
  ])
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!)
  let now = 0
  let peak = 0
  for (const [, delta] of events) {
    now += delta!
    peak = Math.max(peak, now)
  }
  return peak
}
