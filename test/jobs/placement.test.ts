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
          const chosen = chooseNode(job, nodes, used, new Map())
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
      const chosen = chooseNode(job, nodes, used, new Map())!
      used.set(chosen.id, addAmounts(used.get(chosen.id) ?? ZERO, job.resources))
      count.set(chosen.id, (count.get(chosen.id) ?? 0) + 1)
    }
    expect([...count.values()]).toEqual([20, 20, 20, 20, 20])
  })

  it('prefers a node that holds the image, then the least loaded', () => {
    const nodes = [node('a', 4, 0), node('b', 4, 0)]
    const used = new Map<string, Amounts>([['b', { ...ZERO, cpuMillis: 3000 }]])
    expect(chooseNode(spec({}), nodes, used, new Map())?.id).toBe('a')
    expect(chooseNode(spec({}), nodes, used, new Map([['b', 1]]))?.id).toBe('b')
    expect(chooseNode(spec({ cpu: 2 }), nodes, used, new Map([['b', 1]]))?.id).toBe('a')
  })

  it('prefers nodes by the bytes of the image they hold: 9 of 10 layers nearly as much as all of them', () => {
    const nodes = [node('all', 4, 0), node('most', 4, 0), node('few', 4, 0), node('none', 4, 0)]
    const held = new Map([
      ['all', 1],
      ['most', 0.9],
      ['few', 0.1],
    ])
    const idle = new Map<string, Amounts>()
    expect(chooseNode(spec({}), nodes, idle, held)?.id).toBe('all')
    // A node that holds most of it beats one holding a little, even when that one is idle and it is not.
    const mostBusy = new Map<string, Amounts>([
      ['all', { ...ZERO, cpuMillis: 4000 }],
      ['most', { ...ZERO, cpuMillis: 2000 }],
    ])
    expect(chooseNode(spec({}), nodes, mostBusy, held)?.id).toBe('most')
    // Holding 9 of 10 costs what a fifth of a node's load costs: a much busier full holder loses to it.
    const allBusier = new Map<string, Amounts>([['all', { ...ZERO, cpuMillis: 2000 }]])
    expect(chooseNode(spec({}), nodes, allBusier, held)?.id).toBe('most')
    const allSlightlyBusier = new Map<string, Amounts>([['all', { ...ZERO, cpuMillis: 400 }]])
    expect(chooseNode(spec({}), nodes, allSlightlyBusier, held)?.id).toBe('all')
    // Holding none scores worst: it wins only where nothing else fits.
    const othersFull = new Map<string, Amounts>(
      ['all', 'most', 'few'].map((id) => [id, { ...ZERO, cpuMillis: 4000 }]),
    )
    expect(chooseNode(spec({}), nodes, othersFull, held)?.id).toBe('none')
  })

  it('ranks nodes by the image bytes they hold, whatever the shares (never a node holding less when loads are equal)', () => {
    const shares = fc.array(
      fc.integer({ min: 0, max: 10_000 }).map((n) => n / 10_000),
      { minLength: 2, maxLength: 8 },
    )
    fc.assert(
      fc.property(shares, (held) => {
        const nodes = held.map((_, i) => node(`n${i}`, 4, 0))
        const bytes = new Map(held.map((share, i) => [`n${i}`, share]))
        const chosen = chooseNode(spec({}), nodes, new Map(), bytes)!
        expect(bytes.get(chosen.id)).toBe(Math.max(...held))
      }),
    )
  })

  it('queues work ahead on full nodes only within the share allowed, and only when no node has room', () => {
    const nodes = [node('a', 4, 0), node('b', 4, 0)]
    const full = new Map<string, Amounts>([
      ['a', { ...ZERO, cpuMillis: 4000 }],
      ['b', { ...ZERO, cpuMillis: 3500 }],
    ])
    expect(chooseNode(spec({ cpu: 1 }), nodes, full, new Map())).toBeUndefined()
    // A quarter of 4 CPUs may wait on each: b has more of it left.
    expect(chooseNode(spec({ cpu: 1 }), nodes, full, new Map(), 0.25)?.id).toBe('b')
    expect(chooseNode(spec({ cpu: 2 }), nodes, full, new Map(), 0.25)).toBeUndefined()
    // Real room anywhere comes first, even over a node that holds the image.
    const roomOnA = new Map(full).set('a', { ...ZERO, cpuMillis: 3000 })
    expect(chooseNode(spec({ cpu: 1 }), nodes, roomOnA, new Map([['b', 1]]), 0.25)?.id).toBe('a')
    // One GPU cannot be split: nothing is queued ahead for it.
    const gpuNode = [node('g', 4, 0, 1)]
    const gpuBusy = new Map<string, Amounts>([['g', { ...ZERO, cpuMillis: 100, gpu: 1 }]])
    expect(chooseNode(spec({ gpu: 1 }), gpuNode, gpuBusy, new Map(), 0.25)).toBeUndefined()
  })

  it('honours constraints and says why a job can never run', () => {
    const nodes = [node('a', 2, 0, 0, { zone: 'x' }), node('b', 2, 0, 0, { zone: 'y' })]
    expect(chooseNode(spec({}, { constraints: { zone: 'y' } }), nodes, new Map(), new Map())?.id).toBe('b')
    expect(neverFits(spec({}, { constraints: { zone: 'z' } }), nodes)).toBe(
      'no live node with zone=z runs the exec driver (start daemons with --drivers docker,exec)',
    )
    expect(neverFits(spec({ gpu: 1 }), nodes)).toBe(
      'no live node is large enough (it asks for 0.1 CPU, 1 GPU)',
    )
    expect(neverFits(spec({ cpu: 1 }), nodes)).toBeUndefined()
  })
})
