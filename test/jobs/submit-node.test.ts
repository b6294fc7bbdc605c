// Submissions on one daemon: the same submission id sent twice at once makes one job, written once.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { SPECS_KIND } from '../../src/jobs/records.js'
import { destroyNodes, startNode, type TestNode } from '../helpers/in-process.js'

let node: TestNode
beforeAll(async () => {
  node = await startNode({ name: 'sub0' })
})
afterAll(async () => destroyNodes([node]))

it('makes one job of the same submission id submitted twice at once', async () => {
  const { jobs, state } = node.daemon
  const input = [{ driver: 'exec', command: ['true'], submissionId: 'twice-at-once' }]
  const [first, second] = await Promise.all([jobs.submit(input), jobs.submit(input)])
  expect(second.jobs[0]!.id).toBe(first.jobs[0]!.id)
  expect(first.created + second.created).toBe(1)
  const batches = state
    .list(SPECS_KIND)
    .filter((record) => JSON.stringify(record.value).includes('twice-at-once'))
  expect(batches).toHaveLength(1)
})
