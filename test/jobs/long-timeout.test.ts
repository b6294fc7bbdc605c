// Durations past Node's timer limit (2^31-1 ms, 24.8 days) are kept as given, not run after 1 ms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'
import { runCli } from '../helpers/processes.js'
import { sleep, waitFor } from '../helpers/wait.js'

describe('long durations', () => {
  let node: TestNode
  beforeAll(async () => {
    node = await startNode({ name: 'lt0' })
  })
  afterAll(async () => destroyNodes([node]))

  it('keeps a job with a 30-day timeout running', async () => {
    await agreedCoordinator([node])
    const { jobs } = node.daemon
    const { jobs: submitted } = await jobs.submit([
      { driver: 'exec', command: ['sleep', '60'], timeout: '30d' },
    ])
    const id = submitted[0]!.id
    expect(submitted[0]!.timeoutMs).toBe(30 * 86_400_000)
    await waitFor('the job to run', () => jobs.view(id).state === 'running')
    // A timer past Node's limit fires after 1 ms: a few seconds is ample time for that to show.
    await sleep(2_000)
    expect(jobs.view(id).state).toBe('running')
    await jobs.cancel(id)
    const waited = await jobs.wait([id], 30_000)
    expect(waited.jobs[0]!.state).toBe('cancelled')
  })

  it('refuses a job wait longer than the daemon keeps one, at parse time', async () => {
    const result = await runCli([
      'job',
      'wait',
      'j0000000000000000',
      '--timeout',
      '30d',
      '--data-dir',
      node.dataDir,
    ])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('[SHOAL_INVALID_FLAG]')
  })
})
