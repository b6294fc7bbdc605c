// The job book's collection: a job collected takes its assignment and reports with it, even from shared batches;
// a batch the state holds but has not told the book of yet is never judged empty.
import { afterEach, describe, expect, it } from 'vitest'
import type { RunValue } from '../../src/jobs/records.js'
import { assigned, bookWithLease as openBook, submitOne, writeAssignments } from '../helpers/job-records.js'
import type { LocalState } from '../helpers/local-state.js'

const opened: LocalState[] = []
afterEach(async () => {
  for (const local of opened.splice(0)) await local.close()
})
const bookWithLease = () => openBook(opened)

describe('job book collection', () => {
  it('drops a collected job’s assignment from a batch it shares with a live job, and frees the batch later', async () => {
    const { local, book } = await bookWithLease()
    const self = local.identity.peerId
    // Two submissions, one scheduling pass: one assignment batch holds both jobs.
    const first = await submitOne(local, book, 'first')
    const second = await submitOne(local, book, 'second')
    const both = [
      [first, assigned(self)],
      [second, assigned(self)],
    ] as const
    expect(book.assignmentWrites(both)).toHaveLength(1)
    await writeAssignments(local, book, both)
    expect(book.assignment(first)?.node).toBe(self)

    // The first is collected alone: its spec batch goes, the shared assignment batch stays for the second.
    const early = book.garbage(new Set([first]))
    expect(early.jobs).toBe(1)
    expect(early.fenced).toHaveLength(0)
    await local.state.write(early.plain)
    expect(book.has(first)).toBe(false)
    expect(book.assignment(first)).toBeUndefined()
    expect(book.assignment(second)?.node).toBe(self)

    // Once the second goes too, nothing keeps the shared batch: it is deleted with it.
    const late = book.garbage(new Set([second]))
    expect(late.jobs).toBe(1)
    expect(late.fenced).toHaveLength(1)
  })

  it('never collects an assignment or report batch that is merged but not yet indexed (still being persisted)', async () => {
    const { local, book } = await bookWithLease()
    const self = local.identity.peerId
    const id = await submitOne(local, book, 'fresh')
    const ended: RunValue = {
      node: self,
      attempt: 1,
      state: 'succeeded',
      exitCode: 0,
      reason: null,
      startedAt: Date.now() - 10,
      finishedAt: Date.now(),
      pid: 1,
    }
    // The state merges a write at once and tells the book once it is on disk: judged in between, the new
    // batches' jobs are not in the book yet, which must not read as "nothing live in them".
    const writing = local.state.write([
      ...book.assignmentWrites([[id, assigned(self)]]).map((write) => ({ ...write, term: 1 })),
      ...book.runWrites([[id, ended]]),
    ])
    const meanwhile = book.garbage(new Set())
    await writing
    expect(meanwhile.fenced).toEqual([])
    expect(meanwhile.plain).toEqual([])
    expect(book.run(id, 1)?.state).toBe('succeeded')
    expect(book.garbage(new Set())).toEqual({ fenced: [], plain: [], jobs: 0 })
  })
})
