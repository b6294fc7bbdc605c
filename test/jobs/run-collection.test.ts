// A service restarted again and again keeps the run reports and logs of its last few attempts only.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RUN_ATTEMPTS_KEPT } from '../../src/jobs/constants.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { waitFor } from '../helpers/wait.js'

describe('run records of long-running jobs', () => {
  let node: TestNode
  beforeAll(async () => {
    node = await startNode({ name: 'runs0', tuning: { jobs: { collectIntervalMs: 200 } } })
  })
  afterAll(async () => destroyNodes([node]))

  it('collects the reports and logs of attempts older than the last few while the job lives on', async () => {
    await agreedCoordinator([node])
    const { jobs } = node.daemon
    const { book } = jobs
    // Exits at once and is restarted each time (backoff from 1 ms, doubling): many attempts in a few seconds.
    const { jobs: submitted } = await jobs.submit([
      { driver: 'exec', command: ['sh', '-c', 'echo attempt $SHOAL_ATTEMPT'], restart: 'always', backoff: 1 },
    ])
    const id = submitted[0]!.id
    const target = RUN_ATTEMPTS_KEPT + 4
    await waitFor(`attempt ${target}`, () => jobs.view(id).attempt >= target, { timeoutMs: 60_000 })
    const logOf = (attempt: number): string => join(node.dataDir, 'jobs', id, `${attempt}.log`)
    await waitFor('the oldest attempts’ reports to be collected', () =>
      [1, 2, 3].every((attempt) => book.run(id, attempt) === undefined),
    )
    expect([1, 2, 3].some((attempt) => existsSync(logOf(attempt)))).toBe(false)
    // The latest ones stay, with their logs, and so does the job.
    const latest = jobs.view(id).attempt
    const kept = await waitFor('the previous attempt to be reported', () => book.run(id, latest - 1))
    expect(kept.state).toBe('succeeded')
    expect(existsSync(logOf(latest - 1))).toBe(true)
    expect(book.has(id)).toBe(true)
    await jobs.cancel(id)
    expect((await jobs.wait([id], 30_000)).jobs[0]!.state).toBe('cancelled')
  })
})
