// Finished jobs are collected after their retention on every node; a finished job an unfinished one waits on is kept.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { metric } from '../helpers/metrics.js'
import { sleep, waitFor } from '../helpers/wait.js'

const RETENTION_MS = 1_500

describe('job retention', () => {
  let nodes: TestNode[] = []
  beforeAll(async () => {
    const options = { jobRetentionMs: RETENTION_MS, tuning: { jobs: { collectIntervalMs: 200 } } }
    const first = await startNode({ name: 'jr0', ...options })
    const rest = await Promise.all([1, 2].map((i) => startNode({ name: `jr${i}`, join: first, ...options })))
    nodes = [first, ...rest]
  })
  afterAll(async () => destroyNodes(nodes))

  const known = (node: TestNode, id: string): boolean => node.daemon.jobs.book.has(id)

  it('deletes a finished job’s records everywhere after the retention, and keeps a parent still waited on', async () => {
    await agreedCoordinator(nodes)
    const jobs = nodes[1]!.daemon.jobs
    // Two submissions: records come in batches per submission, and a job goes with the last of its batch. The
    // second waits for the first job's end, so their run reports are not written in one batch either (a busy
    // node's reports share a record: RUN_BUSY_GAP_MS).
    const first = await jobs.submit([{ driver: 'exec', command: ['true'], submissionId: 'done' }])
    const done = first.jobs[0]!.id
    expect((await jobs.wait([done], 30_000)).jobs[0]!.state).toBe('succeeded')
    const { jobs: submitted } = await jobs.submit([
      { driver: 'exec', command: ['true'], submissionId: 'parent' },
      // Waits on its parent, then on a node that does not exist: unfinished, so its parent stays.
      { driver: 'exec', command: ['true'], after: ['parent'], constraints: { host: 'nowhere' } },
    ])
    const [parent, child] = submitted.map((job) => job.id) as [string, string]
    const waited = await jobs.wait([done, parent], 30_000)
    expect(waited.jobs.map((job) => job.state)).toEqual(['succeeded', 'succeeded'])
    expect(nodes.every((node) => known(node, done) && known(node, parent))).toBe(true)
    const ranOn = nodes.find((node) => node.daemon.peerId === waited.jobs[0]!.node)!
    const logDir = join(ranOn.dataDir, 'jobs', done)
    expect(existsSync(join(logDir, '1.log'))).toBe(true)

    // Its spec, assignment and report batches are deleted by separate writes, which may reach a node in any order.
    await waitFor('the finished job to be collected on every node', () =>
      nodes.every((node) => {
        const { book } = node.daemon.jobs
        return !known(node, done) && book.assignment(done) === undefined && book.run(done, 1) === undefined
      }),
    )
    for (const node of nodes) {
      const { book } = node.daemon.jobs
      expect(book.spec(done)).toBeUndefined()
      expect(book.assignment(done)).toBeUndefined()
      expect(book.run(done, 1)).toBeUndefined()
      expect(() => node.daemon.jobs.view(done)).toThrow(
        expect.objectContaining({ code: 'SHOAL_JOB_NOT_FOUND' }),
      )
      expect(node.daemon.jobs.list().jobs.map((job) => job.id)).not.toContain(done)
    }
    // Its log and working directory go too, on the node that ran it.
    await waitFor('the collected job’s directory to be removed', () => !existsSync(logDir))
    // Well past the retention, the parent is still there: its waiting child needs its outcome.
    await sleep(RETENTION_MS * 2)
    expect(nodes.every((node) => known(node, parent) && known(node, child))).toBe(true)

    // Once the child ends (cancelled), both go after their retention.
    await nodes[0]!.daemon.jobs.cancel(child)
    await waitFor(
      'the parent and its cancelled child to be collected',
      () => nodes.every((node) => !known(node, parent) && !known(node, child)),
      { timeoutMs: 20_000 },
    )
    let collected = 0
    for (const node of nodes) collected += await metric(node, 'shoal_jobs_collected_total')
    expect(collected).toBe(3)
    // The collected job's submission id is free again: submitting it makes the job anew (same id), which runs.
    const again = await jobs.submit([{ driver: 'exec', command: ['true'], submissionId: 'done' }])
    expect(again.created).toBe(1)
    expect(again.jobs[0]!.id).toBe(done)
    expect((await jobs.wait([done], 30_000)).jobs[0]!.state).toBe('succeeded')
  })
})
