// A job's log keeps the first --job-log-max bytes and says it was cut; the job is drained, never blocked, and runs on.
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { logCutNote } from '../../src/jobs/drivers/capped-log.js'
import { agreedCoordinator } from '../helpers/coordinator.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'

const LOG_MAX = 64 * 1024

describe('job log cap', () => {
  let node: TestNode
  beforeAll(async () => {
    node = await startNode({ name: 'logcap0', tuning: { jobs: { logMaxBytes: LOG_MAX } } })
  })
  afterAll(async () => destroyNodes([node]))

  it('keeps the first bytes of a chatty exec job, notes the cut, and lets the job run to its end', async () => {
    await agreedCoordinator([node])
    const { jobs } = node.daemon
    // 5 MB on both streams, far past the cap (and past any pipe buffer), then a file the job writes after it.
    const script = 'yes out | head -c 4000000; yes err | head -c 1000000 >&2; touch finished'
    const { jobs: submitted } = await jobs.submit([{ driver: 'exec', command: ['sh', '-c', script] }])
    const id = submitted[0]!.id
    const ended = (await jobs.wait([id], 60_000)).jobs[0]!
    expect(ended).toMatchObject({ state: 'succeeded', exitCode: 0 })
    expect(existsSync(join(node.dataDir, 'jobs', id, 'work', 'finished'))).toBe(true)
    const logPath = join(node.dataDir, 'jobs', id, '1.log')
    const note = logCutNote(LOG_MAX)
    expect((await stat(logPath)).size).toBe(LOG_MAX + Buffer.byteLength(note))
    const log = await readFile(logPath, 'utf8')
    expect(log.startsWith('out\nout\n')).toBe(true)
    expect(log.endsWith(note)).toBe(true)
  })

  it('leaves a log under the cap as it was written', async () => {
    const { jobs } = node.daemon
    const { jobs: submitted } = await jobs.submit([
      { driver: 'exec', command: ['sh', '-c', 'echo one; echo two >&2; echo three'] },
    ])
    const id = submitted[0]!.id
    expect((await jobs.wait([id], 30_000)).jobs[0]!.state).toBe('succeeded')
    const log = await readFile(join(node.dataDir, 'jobs', id, '1.log'), 'utf8')
    expect(log.split('\n').sort()).toEqual(['', 'one', 'three', 'two'])
  })
})
