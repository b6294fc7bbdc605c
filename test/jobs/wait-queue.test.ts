// The wait queue yields exactly the waiting jobs in placement order, whatever mix of adds and deletes came before.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type JobSpec, normaliseJob } from '../../src/jobs/spec.js'
import { WaitQueue } from '../../src/jobs/wait-queue.js'

const PEER = '12D3KooWLWomxqdiAuZKSQBNYfhJoC8JSERe31aJ6BWat5M9QUVx'

function spec(n: number, priority: number, createdAt: number, cpu: number): JobSpec {
  return normaliseJob(
    { driver: 'exec', command: ['true'], priority, resources: { cpu }, submissionId: `s${n}` },
    `j${n}`,
    { now: createdAt, submittedBy: PEER },
  )
}

function expectedOrder(jobs: Iterable<JobSpec>): string[] {
  return [...jobs]
    .sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1))
    .map((job) => job.id)
}

describe('wait queue', () => {
  it('keeps placement order and shape counts through any adds and deletes', () => {
    const op = fc.oneof(
      fc.record({
        add: fc.integer({ min: 0, max: 300 }),
        priority: fc.integer({ min: 0, max: 3 }),
        createdAt: fc.integer({ min: 0, max: 50 }),
        cpu: fc.constantFrom(0.1, 0.5, 1),
      }),
      fc.record({ remove: fc.integer({ min: 0, max: 300 }) }),
      fc.record({ read: fc.constant(true) }),
      // What a pass does: take jobs from the front.
      fc.record({ takeFront: fc.integer({ min: 1, max: 40 }) }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const queue = new WaitQueue()
        const model = new Map<string, JobSpec>()
        const byNumber = new Map<number, JobSpec>()
        for (const step of ops) {
          if ('add' in step) {
            const job = byNumber.get(step.add) ?? spec(step.add, step.priority, step.createdAt, step.cpu)
            byNumber.set(step.add, job)
            queue.add(job)
            model.set(job.id, job)
          } else if ('remove' in step) {
            const id = byNumber.get(step.remove)?.id
            if (id !== undefined) expect(queue.delete(id)).toBe(model.delete(id))
          } else if ('takeFront' in step) {
            let taken = 0
            for (const { spec: job } of queue.inOrder()) {
              if (taken++ === step.takeFront) break
              queue.delete(job.id)
              model.delete(job.id)
            }
          } else {
            expect([...queue.inOrder()].map((entry) => entry.spec.id)).toEqual(expectedOrder(model.values()))
          }
        }
        expect([...queue.inOrder()].map((entry) => entry.spec.id)).toEqual(expectedOrder(model.values()))
        expect(queue.size).toBe(model.size)
        const shapes = new Set([...model.values()].map((job) => job.resources.cpuMillis))
        expect(queue.shapeCount).toBe(shapes.size)
      }),
    )
  })

  it('skips jobs deleted while it is being read', () => {
    const queue = new WaitQueue()
    const jobs = Array.from({ length: 10 }, (_, n) => spec(n, 0, n, 0.1))
    for (const job of jobs) queue.add(job)
    const seen: string[] = []
    for (const { spec: job } of queue.inOrder()) {
      seen.push(job.id)
      queue.delete(job.id)
      // The next one too: it must not be yielded.
      const next = jobs[jobs.indexOf(job) + 1]
      if (next !== undefined) queue.delete(next.id)
    }
    expect(seen).toEqual([0, 2, 4, 6, 8].map((n) => jobs[n]!.id))
    expect(queue.size).toBe(0)
  })
})
