// The collector's writes: a collected job is never seen with its spec but without its assignment (it would be placed again).
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterEach, expect, it } from 'vitest'
import { JobCollector } from '../../src/jobs/collector.js'
import { createJobMetrics } from '../../src/jobs/metrics.js'
import type { LocalWrite } from '../../src/state/index.js'
import { assigned, bookWithLease, LOCAL_TERM, submitOne, writeAssignments } from '../helpers/job-records.js'
import type { LocalState } from '../helpers/local-state.js'

const opened: LocalState[] = []
afterEach(async () => {
  for (const local of opened.splice(0)) await local.close()
})

it('deletes a finished job’s spec no later than its assignment, in one write', async () => {
  const { local, book } = await bookWithLease(opened)
  const self = local.identity.peerId
  const id = await submitOne(local, book, 'finished')
  await writeAssignments(local, book, [[id, assigned(self)]])
  const now = Date.now()
  await local.state.write(
    book.runWrites([
      [
        id,
        {
          node: self,
          attempt: 1,
          state: 'succeeded',
          exitCode: 0,
          reason: null,
          startedAt: now,
          finishedAt: now,
          pid: 1,
        },
      ],
    ]),
  )

  // What the scheduler would see at each change: a spec with no assignment reads as a job waiting to be placed.
  const seenPending: string[] = []
  book.watch((change) => {
    const records = book.read(change.id)
    if (records !== undefined && records.assign === undefined) seenPending.push(change.part)
  })
  const writes: number[] = []
  const collector = new JobCollector(
    {
      jobs: book,
      coordinator: {
        isHolder: () => true,
        term: () => LOCAL_TERM,
        writeAsCoordinator: async (
          term: number,
          fenced: readonly LocalWrite[],
          unfenced: readonly LocalWrite[] = [],
        ) => {
          writes.push(fenced.length + unfenced.length)
          return local.state.write([...unfenced, ...fenced.map((write) => ({ ...write, term }))])
        },
      },
      metrics: createJobMetrics(new Registry(), { running: () => 0, waiting: () => 0 }),
      log: pino({ level: 'silent' }),
      now: () => Date.now() + 60_000,
    },
    { retentionMs: 1_000, intervalMs: 60_000 },
  )
  expect(await collector.collect()).toBe(1)
  expect(book.has(id)).toBe(false)
  expect(book.assignment(id)).toBeUndefined()
  expect(book.run(id, 1)).toBeUndefined()
  expect(seenPending).toEqual([])
  // Spec, assignment and report batches: one write.
  expect(writes).toEqual([3])
})
