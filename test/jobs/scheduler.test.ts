// The scheduler against one node's real state: it never over-commits a node, runs parents first, and is fenced by its term.
import { EventEmitter } from 'node:events'
import fc from 'fast-check'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import {
  COORDINATOR_LEASE_ID,
  coordinatorKinds,
  type LeaseValue,
  leaseFence,
  leaseKind,
} from '../../src/coordinator/index.js'
import { NotCoordinatorError, StaleTermError } from '../../src/errors.js'
import { JobBook } from '../../src/jobs/job-book.js'
import { createJobMetrics } from '../../src/jobs/metrics.js'
import { capacityOf } from '../../src/jobs/placement.js'
import { jobKinds, type RunValue } from '../../src/jobs/records.js'
import { Scheduler } from '../../src/jobs/schedule/scheduler.js'
import type { JobSpec } from '../../src/jobs/spec.js'
import { isFinal } from '../../src/jobs/states.js'
import { prepareSubmission } from '../../src/jobs/submit.js'
import { deriveState } from '../../src/jobs/view.js'
import type { Liveness, NodeValue } from '../../src/membership/index.js'
import type { LocalWrite } from '../../src/state/index.js'
import { newIdentity, type TestIdentity } from '../helpers/keys.js'
import { type LocalState, localState } from '../helpers/local-state.js'

interface Harness {
  local: LocalState
  book: JobBook
  scheduler: Scheduler
  nodes: Array<{ identity: TestIdentity; value: NodeValue }>
  liveness: Map<string, Liveness>
}

const opened: LocalState[] = []
afterEach(async () => {
  for (const local of opened.splice(0)) await local.close()
})

function nodeValue(peerId: string, cpus: number): NodeValue {
  return {
    name: peerId.slice(-6),
    peerId,
    addresses: [],
    resources: {
      cpus,
      memoryTotal: 64 * 1024 ** 3,
      memoryFree: 64 * 1024 ** 3,
      diskTotal: 1024 ** 4,
      diskFree: 1024 ** 4,
      load: [0, 0, 0],
    },
    labels: {},
    drivers: { docker: true, exec: true },
    version: 'test',
    startedAt: 0,
    heartbeat: 0,
    state: 'up',
  }
}

/**
 * A scheduler on a node with `cpus` nodes to place on, in a real state holding a lease of term 1: this node's,
 * or `holder`'s (another coordinator; this one then takes over with `claim`).
 */
async function harness(
  cpus: readonly number[],
  holder?: TestIdentity,
  imageBytesHeld: (ref: string) => ReadonlyMap<string, number> | undefined = () => new Map(),
  noteGapMs?: number,
): Promise<Harness> {
  const local = await localState([...coordinatorKinds, ...jobKinds], leaseFence)
  opened.push(local)
  const { state, identity } = local
  const leases = state.kind(leaseKind)
  if (holder === undefined) {
    await leases.put(COORDINATOR_LEASE_ID, lease(identity.peerId, 1, state.clockNow()), { term: 1 })
  } else {
    const claim = { ...state.clockNow(), node: holder.peerId }
    await local.receive(holder, `lease/${COORDINATOR_LEASE_ID}`, lease(holder.peerId, 1, claim), { term: 1 })
  }
  const nodes = await Promise.all(
    cpus.map(async (count) => {
      const node = await newIdentity()
      return { identity: node, value: nodeValue(node.peerId, count) }
    }),
  )
  const liveness = new Map(nodes.map((node) => [node.identity.peerId, 'alive' as Liveness]))
  const book = new JobBook(state)
  const coordinator = Object.assign(new EventEmitter(), {
    isHolder: () => leases.value(COORDINATOR_LEASE_ID)?.holder === identity.peerId,
    term: () => leases.get(COORDINATOR_LEASE_ID)?.term ?? 0,
    writeAsCoordinator: async (term: number, writes: readonly LocalWrite[]) => {
      if (leases.value(COORDINATOR_LEASE_ID)?.holder !== identity.peerId)
        throw new NotCoordinatorError('deposed')
      return state.write(writes.map((write) => ({ ...write, term })))
    },
  })
  const membership = Object.assign(new EventEmitter(), {
    aliveNodes: () =>
      nodes.filter((node) => liveness.get(node.identity.peerId) === 'alive').map((node) => node.value),
    livenessOf: (peer: string) => liveness.get(peer),
    nameOf: (peer: string) => peer.slice(-6),
    describe: (peer: string) => nodes.find((node) => node.identity.peerId === peer)?.value,
  })
  const scheduler = new Scheduler({
    jobs: book,
    coordinator,
    membership,
    imageBytesHeld,
    metrics: createJobMetrics(new Registry(), { running: () => 0, waiting: () => 0 }),
    log: pino({ level: 'silent' }),
    now: () => Date.now(),
    startTimeoutMs: 60_000,
    handoverSettleMs: 0,
    noteGapMs,
  })
  // As the job service does: every change to a job's records is news for the scheduler.
  book.start()
  book.watch(({ id }) => scheduler.changed(id))
  return { local, book, scheduler, nodes, liveness }
}

function lease(holder: string, term: number, claim: LeaseValue['claim']): LeaseValue {
  const now = Date.now()
  return {
    holder,
    holderName: holder.slice(-6),
    term,
    claim,
    since: now,
    expiresAt: now + 3_000,
    durationMs: 3_000,
  }
}

interface JobPlan {
  cpu: number
  /** Indices of earlier jobs this one runs after. */
  after: number[]
  succeeds: boolean
}

async function submit(h: Harness, plans: readonly JobPlan[]): Promise<JobSpec[]> {
  const submission = await prepareSubmission(
    plans.map((plan, i) => ({
      driver: 'exec',
      command: ['true'],
      resources: { cpu: plan.cpu },
      submissionId: `s${i}`,
      after: plan.after.map((parent) => `s${parent}`),
    })),
    { now: Date.now(), submittedBy: h.local.identity.peerId, exists: (id) => h.book.has(id) },
  )
  await h.local.state.write(h.book.specWrites(submission.fresh))
  return submission.fresh
}

let batchCounter = 0

/** Reports, as the node it is assigned to, that every placed attempt without a report ran (for 10 s: no queuing ahead). */
async function runPlaced(h: Harness, plans: ReadonlyMap<string, JobPlan>): Promise<void> {
  for (const id of h.book.ids()) {
    const job = h.book.read(id)!
    const assign = job.assign
    if (assign?.phase !== 'assigned' || job.run !== undefined) continue
    const node = h.nodes.find((candidate) => candidate.identity.peerId === assign.node)!
    const ok = plans.get(id)!.succeeds
    const run: RunValue = {
      node: node.identity.peerId,
      attempt: assign.attempt,
      state: ok ? 'succeeded' : 'failed',
      exitCode: ok ? 0 : 1,
      reason: ok ? null : 'exit code 1',
      startedAt: 0,
      finishedAt: 10_000,
      pid: null,
    }
    await h.local.receive(node.identity, `runs/${node.identity.peerId}/${Date.now()}-${++batchCounter}`, {
      reports: [{ ...run, job: id }],
    })
  }
}

/** Per node, the cpu of the attempts placed there that have not ended. */
function committed(h: Harness): Map<string, number> {
  const used = new Map<string, number>()
  for (const id of h.book.ids()) {
    const job = h.book.read(id)!
    if (job.assign?.phase !== 'assigned' || (job.run !== undefined && job.run.state !== 'running')) continue
    used.set(job.assign.node!, (used.get(job.assign.node!) ?? 0) + job.spec.resources.cpuMillis)
  }
  return used
}

const planArbitrary = fc
  .array(
    fc.record({
      cpu: fc.constantFrom(0.1, 0.5, 1, 2),
      parents: fc.array(fc.nat(), { maxLength: 2 }),
      succeeds: fc.boolean(),
    }),
    { minLength: 1, maxLength: 24 },
  )
  .map((raw) =>
    raw.map(
      ({ cpu, parents, succeeds }, i): JobPlan => ({
        cpu,
        after: i === 0 ? [] : [...new Set(parents.map((parent) => parent % i))],
        succeeds,
      }),
    ),
  )

describe('scheduler', () => {
  it('never places more on a node than it has, runs a job only after its parents succeeded, and ends every job', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
        planArbitrary,
        async (cpus, plans) => {
          const h = await harness(cpus)
          const specs = await submit(h, plans)
          const planOf = new Map(specs.map((spec, i) => [spec.id, plans[i]!]))
          const capacity = new Map(
            h.nodes.map((node) => [node.identity.peerId, capacityOf(node.value.resources).cpuMillis]),
          )
          const parentsOf = new Map(specs.map((spec) => [spec.id, spec.after]))
          const fitsSomewhere = (spec: JobSpec): boolean =>
            [...capacity.values()].some((cpuMillis) => spec.resources.cpuMillis <= cpuMillis)
          // A job that fits nowhere waits (and says why), and so does everything after it.
          const canRun = (spec: JobSpec): boolean =>
            fitsSomewhere(spec) && spec.after.every((parent) => canRun(h.book.spec(parent)!))
          for (let step = 0; step < plans.length * 2 + 4; step++) {
            await h.scheduler.passNow()
            for (const [node, used] of committed(h)) expect(used).toBeLessThanOrEqual(capacity.get(node)!)
            for (const id of h.book.ids()) {
              if (h.book.read(id)!.assign?.phase !== 'assigned') continue
              for (const parent of parentsOf.get(id)!)
                expect(deriveState(h.book.read(parent)!).state).toBe('succeeded')
            }
            await runPlaced(h, planOf)
          }
          for (const spec of specs) {
            const state = deriveState(h.book.read(spec.id)!).state
            // A job that fits nowhere waits (and says why); everything else has ended, in the way its plan says.
            if (!canRun(spec)) continue
            expect(isFinal(state)).toBe(true)
            const parentFailed = spec.after.some(
              (parent) => deriveState(h.book.read(parent)!).state !== 'succeeded',
            )
            if (parentFailed) expect(state).toBe('failed')
            else expect(state).toBe(planOf.get(spec.id)!.succeeds ? 'succeeded' : 'failed')
          }
          await h.local.close()
          opened.splice(opened.indexOf(h.local), 1)
        },
      ),
      { numRuns: 25 },
    )
  })

  it('moves the work of a node that died back to pending, and places it on another', async () => {
    const h = await harness([1, 1])
    const [spec] = await submit(h, [{ cpu: 1, after: [], succeeds: true }])
    await h.scheduler.passNow()
    const first = h.book.assignment(spec!.id)!
    expect(first.phase).toBe('assigned')
    h.liveness.set(first.node!, 'dead')
    h.scheduler.changed(spec!.id)
    await h.scheduler.passNow()
    await h.scheduler.passNow()
    const moved = h.book.assignment(spec!.id)!
    expect(moved).toMatchObject({ phase: 'assigned', attempt: 2 })
    expect(moved.node).not.toBe(first.node)
  })

  it('never over-commits when assignments are split over a coordinator change', async () => {
    const old = await newIdentity()
    const h = await harness([2], old)
    const node = h.nodes[0]!.identity.peerId
    const specs = await submit(
      h,
      Array.from({ length: 4 }, () => ({ cpu: 1, after: [], succeeds: true })),
    )
    const assigned = { ...pendingAssign(), phase: 'assigned' as const, node }
    // The old coordinator places one job, in a batch written before the new term began: it stands.
    const [before] = h.book.assignmentWrites([[specs[0]!.id, assigned]])
    await h.local.receive(old, before!.key, before!.value, { term: 1 })
    // This node claims term 2; a batch the old coordinator writes after that is fenced off everywhere.
    const claim = h.local.state.clockNow()
    await h.local.state.kind(leaseKind).put(COORDINATOR_LEASE_ID, lease(h.local.identity.peerId, 2, claim), {
      term: 2,
    })
    const [after] = h.book.assignmentWrites([[specs[1]!.id, assigned]])
    await expect(h.local.receive(old, after!.key, after!.value, { term: 1 })).rejects.toThrow(/stale-term/)
    // Taking over, the scheduler counts what the old term placed, and fills only the room left.
    await h.scheduler.passNow()
    await h.scheduler.passNow()
    const placed = specs.filter((spec) => h.book.assignment(spec.id)?.phase === 'assigned')
    expect(placed).toHaveLength(2)
    expect(h.book.assignment(specs[0]!.id)).toMatchObject({ node, attempt: 1 })
    expect(committed(h).get(node)).toBe(2_000)
  })

  it('writes nothing once a newer term is known: its writes are refused by the fence', async () => {
    const h = await harness([4])
    const other = await newIdentity()
    await h.scheduler.passNow()
    const specs = await submit(h, [{ cpu: 1, after: [], succeeds: true }])
    // Another node claims term 2 (a claim stamped now: anything this coordinator writes later is fenced off).
    await h.local.receive(
      other,
      `lease/${COORDINATOR_LEASE_ID}`,
      lease(other.peerId, 2, { ...h.local.state.clockNow(), node: other.peerId }),
      {
        term: 2,
      },
    )
    h.scheduler.changed(specs[0]!.id)
    await h.scheduler.passNow().catch((err: unknown) => {
      expect(err instanceof NotCoordinatorError || err instanceof StaleTermError).toBe(true)
    })
    expect(h.book.assignment(specs[0]!.id)).toBeUndefined()
    // Written under term 1 now, the fence itself refuses it.
    await expect(
      h.local.state.write([{ ...h.book.assignmentWrites([[specs[0]!.id, pendingAssign()]])[0]!, term: 1 }]),
    ).rejects.toMatchObject({ code: 'SHOAL_STALE_TERM' })
  })
  it('notes why jobs cannot be placed at most once per gap, and never holds a placement back for it', async () => {
    const gapMs = 1_500
    const h = await harness([2], undefined, () => new Map(), gapMs)
    const specs = async (inputs: ReadonlyArray<Record<string, unknown>>): Promise<JobSpec[]> => {
      const submission = await prepareSubmission(
        inputs.map((input) => ({ driver: 'exec', command: ['true'], ...input })),
        { now: Date.now(), submittedBy: h.local.identity.peerId, exists: (id) => h.book.has(id) },
      )
      await h.local.state.write(h.book.specWrites(submission.fresh))
      return submission.fresh
    }
    const nowhere = { constraints: { gpu: 'a100' } }
    const [first] = await specs([{ ...nowhere, submissionId: 'first' }])
    await h.scheduler.passNow()
    const notedAt = performance.now()
    expect(h.book.read(first!.id)!.assign).toMatchObject({ phase: 'pending', reason: expect.any(String) })
    const [second, placeable] = await specs([
      { ...nowhere, submissionId: 'second' },
      { submissionId: 'placeable' },
    ])
    await h.scheduler.passNow()
    // Within the gap: the placeable job is placed at once, the second note waits.
    expect(performance.now() - notedAt).toBeLessThan(gapMs)
    expect(h.book.read(placeable!.id)!.assign).toMatchObject({
      phase: 'assigned',
      node: h.nodes[0]!.identity.peerId,
    })
    expect(h.book.read(second!.id)!.assign?.reason ?? null).toBeNull()
    await new Promise((resolve) => setTimeout(resolve, gapMs))
    await h.scheduler.passNow()
    expect(h.book.read(second!.id)!.assign).toMatchObject({ phase: 'pending', reason: expect.any(String) })
  })

  it('holds a docker job while its image’s layers are looked up, then places it near the most bytes', async () => {
    let held: Map<string, number> | undefined
    let peers: string[] = []
    const h = await harness([2, 2, 2], undefined, () => held)
    peers = h.nodes.map((node) => node.identity.peerId)
    const submission = await prepareSubmission(
      [{ driver: 'docker', image: 'registry.test/team/app:v1', command: ['true'], submissionId: 'img' }],
      { now: Date.now(), submittedBy: h.local.identity.peerId, exists: (id) => h.book.has(id) },
    )
    await h.local.state.write(h.book.specWrites(submission.fresh))
    const [spec] = submission.fresh
    await h.scheduler.passNow()
    await h.scheduler.passNow()
    expect(h.book.read(spec!.id)!.assign?.phase ?? 'pending').toBe('pending')
    held = new Map([
      [peers[0]!, 0.1],
      [peers[1]!, 0.9],
    ])
    await h.scheduler.passNow()
    expect(h.book.read(spec!.id)!.assign).toMatchObject({ phase: 'assigned', node: peers[1] })
  })
})

function pendingAssign() {
  return {
    attempt: 1,
    generation: 0,
    phase: 'pending' as const,
    node: null,
    outcome: null,
    reason: null,
    failures: 0,
    retryAt: null,
    at: Date.now(),
  }
}
