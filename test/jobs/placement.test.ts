import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Amounts,
  addAmounts,
  type Candidate,
  chooseNode,
  neverFits,
  ZERO,
} from '../../src/jobs/placement.js'
import { type JobSpec, normaliseJob } from '../../src/jobs/spec.js'

const PEER = '12D3KooWLWomxqdiAuZKSQBNYfhJoC8JSERe31aJ6BWat5M9QUVx'

function spec(
  resources: { cpu?: number; memory?: number; gpu?: number },
  extra: Record<string, unknown> = {},
): JobSpec {
  return normaliseJob({ driver: 'exec', command: ['true'], resources, ...extra }, 'job', {
    now: 0,
    submittedBy: PEER,
  })
}

function node(
  id: string,
  cpus: number,
  memory: number,
  gpu = 0,
  labels: Record<string, string> = {},
): Candidate {
  return {
    id,
    name: id,
    labels,
    drivers: { exec: true, docker: false },
    hostNetwork: false,
    drained: false,
    capacity: { cpuMillis: cpus * 1000, memory, disk: 0, gpu },
  }
}

describe('placement', () => {
  it('never over-commits any node, whatever the jobs and nodes', () => {
    const job = fc.record({
      cpu: fc.integer({ min: 1, max: 4000 }).map((m) => m / 1000),
      memory: fc.integer({ min: 0, max: 8 }).map((g) => g * 1024 ** 3),
      gpu: fc.integer({ min: 0, max: 2 }),
    })
    const cluster = fc.array(
      fc.record({
        cpus: fc.integer({ min: 1, max: 8 }),
        memory: fc.integer({ min: 1, max: 16 }),
        gpu: fc.integer({ min: 0, max: 2 }),
      }),
      { minLength: 1, maxLength: 6 },
    )
    fc.assert(
      fc.property(cluster, fc.array(job, { maxLength: 200 }), (shapes, jobs) => {
        const nodes = shapes.map((s, i) => node(`n${i}`, s.cpus, s.memory * 1024 ** 3, s.gpu))
        const used = new Map<string, Amounts>()
        for (const wanted of jobs) {
          const job = spec(wanted)
          const chosen = chooseNode(job, nodes, used, new Set())
          if (chosen === undefined) continue
          used.set(chosen.id, addAmounts(used.get(chosen.id) ?? ZERO, job.resources))
        }
        for (const n of nodes) {
          const u = used.get(n.id) ?? ZERO
          expect(u.cpuMillis).toBeLessThanOrEqual(n.capacity.cpuMillis)
          expect(u.memory).toBeLessThanOrEqual(n.capacity.memory)
          expect(u.gpu).toBeLessThanOrEqual(n.capacity.gpu)
        }
      }),
    )
  })

  it('spreads equal jobs evenly over equal nodes', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'].map((id) => node(id, 2, 1024 ** 3))
    const used = new Map<string, Amounts>()
    const count = new Map<string, number>()
    for (let i = 0; i < 100; i++) {
      const job = spec({})
      const chosen = chooseNode(job, nodes, used, new Set())!
      used.set(chosen.id, addAmounts(used.get(chosen.id) ?? ZERO, job.resources))
      count.set(chosen.id, (count.get(chosen.id) ?? 0) + 1)
    }
    expect([...count.values()]).toEqual([20, 20, 20, 20, 20])
  })

  it('prefers a node that holds the image, then the least loaded', () => {
    const nodes = [node('a', 4, 0), node('b', 4, 0)]
    const used = new Map<string, Amounts>([['b', { ...ZERO, cpuMillis: 3000 }]])
    expect(chooseNode(spec({}), nodes, used, new Set())?.id).toBe('a')
    expect(chooseNode(spec({}), nodes, used, new Set(['b']))?.id).toBe('b')
    expect(chooseNode(spec({ cpu: 2 }), nodes, used, new Set(['b']))?.id).toBe('a')
  })

  it('queues work ahead on full nodes only within the share allowed, and only when no node has room', () => {
    const nodes = [node('a', 4, 0), node('b', 4, 0)]
    const full = new Map<string, Amounts>([
      ['a', { ...ZERO, cpuMillis: 4000 }],
      ['b', { ...ZERO, cpuMillis: 3500 }],
    ])
    expect(chooseNode(spec({ cpu: 1 }), nodes, full, new Set())).toBeUndefined()
    // A quarter of 4 CPUs may wait on each: b has more of it left.
    expect(chooseNode(spec({ cpu: 1 }), nodes, full, new Set(), 0.25)?.id).toBe('b')
    expect(chooseNode(spec({ cpu: 2 }), nodes, full, new Set(), 0.25)).toBeUndefined()
    // Real room anywhere comes first, even over a node that holds the image.
    const roomOnA = new Map(full).set('a', { ...ZERO, cpuMillis: 3000 })
    expect(chooseNode(spec({ cpu: 1 }), nodes, roomOnA, new Set(['b']), 0.25)?.id).toBe('a')
    // One GPU cannot be split: nothing is queued ahead for it.
    const gpuNode = [node('g', 4, 0, 1)]
    const gpuBusy = new Map<string, Amounts>([['g', { ...ZERO, cpuMillis: 100, gpu: 1 }]])
    expect(chooseNode(spec({ gpu: 1 }), gpuNode, gpuBusy, new Set(), 0.25)).toBeUndefined()
  })

  it('honours constraints and says why a job can never run', () => {
    const nodes = [node('a', 2, 0, 0, { zone: 'x' }), node('b', 2, 0, 0, { zone: 'y' })]
    expect(chooseNode(spec({}, { constraints: { zone: 'y' } }), nodes, new Map(), new Set())?.id).toBe('b')
    expect(neverFits(spec({}, { constraints: { zone: 'z' } }), nodes)).toBe(
      'no live node with zone=z runs the exec driver (start daemons with --drivers docker,exec)',
    )
    expect(neverFits(spec({ gpu: 1 }), nodes)).toBe(
      'no live node is large enough (it asks for 0.1 CPU, 1 GPU)',
    )
    expect(neverFits(spec({ cpu: 1 }), nodes)).toBeUndefined()
  })
})
