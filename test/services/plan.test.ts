// The service placement rule as a pure function: spread, failover, one rollout step at a time, balancing that ends.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SLOT_SETTLE_TIMEOUT_MS } from '../../src/services/constants.js'
import { type PlanInput, type PlanNode, planService } from '../../src/services/plan.js'
import type { InstanceStatus, PlacementValue, ServiceValue } from '../../src/services/records.js'

const NOW = 1_000_000

function node(id: string, options: Partial<PlanNode> = {}): PlanNode {
  return {
    id,
    name: id,
    labels: {},
    drivers: { exec: true, docker: true },
    hostNetwork: false,
    drained: false,
    capacity: { cpuMillis: 8000, memory: 8 * 1024 ** 3, disk: 100 * 1024 ** 3, gpu: 0 },
    aliveSince: 0,
    ...options,
  }
}

function service(replicas: number, options: Partial<ServiceValue> = {}): ServiceValue {
  return {
    spec: {
      name: 'web',
      driver: 'exec',
      image: null,
      git: null,
      command: ['sleep', '1000'],
      env: {},
      workdir: null,
      network: null,
      resources: { cpuMillis: 100, memory: 0, disk: 0, gpu: 0 },
      constraints: {},
      vars: {},
      health: null,
      spread: true,
    },
    replicas,
    desired: 'running',
    generation: 1,
    varsEpoch: 0,
    createdAt: 0,
    updatedAt: 0,
    ...options,
  }
}

function running(generation: number): InstanceStatus {
  return {
    service: 'web',
    slot: 0,
    generation,
    commit: null,
    state: 'running',
    restarts: 0,
    health: 'none',
    reason: null,
    startedAt: 0,
    cpu: 0,
    memory: 0,
    disk: 0,
    pid: null,
  }
}

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    service: service(3),
    current: undefined,
    nodes: [node('a'), node('b'), node('c')],
    keep: () => false,
    used: new Map(),
    reported: () => running(1),
    imageShares: new Map(),
    commit: null,
    now: NOW,
    ...overrides,
  }
}

const placement = (nodes: Array<string | null>, generation = 1): PlacementValue => ({
  slots: nodes.map((id) => ({ node: id, generation, commit: null, since: 0 })),
  commit: null,
  commitError: null,
  at: 0,
})

const counts = (slots: Array<{ node: string | null }>): Record<string, number> => {
  const all: Record<string, number> = {}
  for (const slot of slots) if (slot.node !== null) all[slot.node] = (all[slot.node] ?? 0) + 1
  return all
}

describe('planService', () => {
  it('spreads new instances over nodes', () => {
    const result = planService(input({}))
    expect(counts(result.slots)).toEqual({ a: 1, b: 1, c: 1 })
    expect(result.placed).toBe(3)
  })

  it('moves every instance off a dead node at once, and keeps those on a suspected one', () => {
    const current = placement(['a', 'b', 'c'])
    const dead = planService(input({ current, nodes: [node('a'), node('b')] }))
    expect(dead.slots[2]!.node).not.toBe('c')
    expect(dead.placed).toBe(1)
    const suspect = planService(input({ current, nodes: [node('a'), node('b')], keep: (id) => id === 'c' }))
    expect(suspect.slots[2]!.node).toBe('c')
  })

  it('never places on a drained node, one without the driver, or one whose labels do not match', () => {
    const nodes = [
      node('a', { drained: true }),
      node('b', { drivers: { exec: false, docker: true } }),
      node('c', { labels: { zone: 'x' } }),
      node('d'),
    ]
    const constrained = service(2, {
      spec: { ...service(2).spec, constraints: { zone: 'x' } },
    })
    expect(counts(planService(input({ service: constrained, nodes })).slots)).toEqual({ c: 2 })
  })

  it('gives up every node while the service is stopped', () => {
    const stopped = service(3, { desired: 'stopped' })
    const result = planService(input({ service: stopped, current: placement(['a', 'b', 'c']) }))
    expect(result.slots.map((slot) => slot.node)).toEqual([null, null, null])
  })

  it('leaves a slot unplaced when nothing has room', () => {
    const big = service(2, {
      spec: { ...service(2).spec, resources: { cpuMillis: 6000, memory: 0, disk: 0, gpu: 0 } },
    })
    const result = planService(input({ service: big, nodes: [node('a')] }))
    expect(result.slots.map((slot) => slot.node)).toEqual(['a', null])
  })

  it('rolls one slot at a time, and only once the previous one runs the new generation', () => {
    const next = service(3, { generation: 2 })
    const current = placement(['a', 'b', 'c'])
    const first = planService(input({ service: next, current }))
    expect(first.rolled).toBe(true)
    expect(first.slots.map((slot) => slot.generation)).toEqual([2, 1, 1])
    const placed = { ...current, slots: first.slots }
    // Slot 0 still reports generation 1: nothing else rolls.
    const waiting = planService(input({ service: next, current: placed }))
    expect(waiting.slots.map((slot) => slot.generation)).toEqual([2, 1, 1])
    // Slot 0 runs generation 2: the next slot rolls.
    const reported = (slot: number): InstanceStatus => running(slot === 0 ? 2 : 1)
    const second = planService(input({ service: next, current: placed, reported }))
    expect(second.slots.map((slot) => slot.generation)).toEqual([2, 2, 1])
    // A slot that never comes up stops blocking after the settle timeout.
    const late = planService(input({ service: next, current: placed, now: NOW + SLOT_SETTLE_TIMEOUT_MS }))
    expect(late.slots.map((slot) => slot.generation)).toEqual([2, 2, 1])
  })

  it('moves one instance to a node that joined, and none to a node younger than the balance age', () => {
    const current = placement(['a', 'a', 'b', 'b'])
    const nodes = [node('a'), node('b'), node('c', { aliveSince: NOW - 60_000 })]
    const result = planService(input({ service: service(4), current, nodes }))
    expect(result.balanced).toBe(true)
    const after = counts(result.slots)
    expect(after.c).toBe(1)
    expect([after.a, after.b].sort()).toEqual([1, 2])
    const young = [node('a'), node('b'), node('c', { aliveSince: NOW - 100 })]
    expect(planService(input({ service: service(4), current, nodes: young })).balanced).toBe(false)
  })

  it('balancing ends: repeated plans settle with every node within one of the others, without moving back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 2, max: 5 }),
        (start, nodeCount) => {
          const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, nodeCount)
          const nodes = ids.map((id) => node(id))
          let current = placement(start)
          const history = new Set<string>()
          for (let step = 0; step < 100; step++) {
            const result = planService(input({ service: service(start.length), current, nodes }))
            const key = JSON.stringify(result.slots.map((slot) => slot.node))
            if (!result.balanced && result.placed === 0) {
              const all = ids.map((id) => counts(result.slots)[id] ?? 0)
              expect(Math.max(...all) - Math.min(...all)).toBeLessThanOrEqual(1)
              return
            }
            expect(history.has(key)).toBe(false)
            history.add(key)
            current = { ...current, slots: result.slots }
          }
          throw new Error('balancing did not end in 100 steps')
        },
      ),
    )
  })
})
