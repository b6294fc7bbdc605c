// The scheduler, active only on the coordinator: places waiting jobs, retries, fails dependents, moves lost work.
import type { Logger } from 'pino'
import type { Coordinator } from '../coordinator/index.js'
import { NotCoordinatorError, StaleTermError } from '../errors.js'
import type { Liveness, Membership } from '../membership/index.js'
import type { LocalWrite, ReplicatedState } from '../state/index.js'
import { subjectOf } from '../state/index.js'
import {
  CLASSIFY_SLICE,
  HANDOVER_SETTLE_MS,
  MAX_BACKOFF_MS,
  PLACEMENT_BATCH,
  QUEUE_AHEAD_MAX_RUN_MS,
  QUEUE_AHEAD_MAX_SHARE,
  QUEUE_AHEAD_MS,
  SCHEDULE_DEBOUNCE_MS,
  SCHEDULE_TICK_MS,
  SERVICE_HEALTHY_RUN_MS,
} from './constants.js'
import type { JobMetrics } from './metrics.js'
import {
  type Amounts,
  addAmounts,
  type Candidate,
  capacityOf,
  chooseNode,
  fits,
  neverFits,
  subtractAmounts,
  ZERO,
} from './placement.js'
import { type AssignValue, assignKey, JOB_KIND } from './records.js'
import { RunTimeAverage } from './run-time.js'
import type { JobSpec } from './spec.js'
import { isFinal } from './states.js'
import { cancelRequested, deriveState, type JobRecords, readJob, willRestart } from './view.js'
import { WaitQueue } from './wait-queue.js'

export interface SchedulerComponents {
  state: ReplicatedState
  coordinator: Coordinator
  membership: Membership
  /** Nodes holding an image (store or engine), to prefer them. */
  imageHolders(ref: string): ReadonlySet<string>
  metrics: JobMetrics
  log: Logger
  now(): number
  /** An assignment unstarted this long, with room for it beside what its node runs, is moved. */
  startTimeoutMs: number
}

interface Active {
  node: string
  need: Amounts
  /** performance.now() when this coordinator first saw the assignment without a run report. */
  since: number
}

const LOST: ReadonlySet<Liveness | undefined> = new Set<Liveness | undefined>(['dead', 'left'])

export class Scheduler {
  private holding = false
  /** performance.now() when this node took the role: placing waits HANDOVER_SETTLE_MS after it. */
  private holdingSince = 0
  /** Set on taking the role until every job has been looked at once. */
  private rebuilding = false
  private readonly dirty = new Set<string>()
  /** Jobs placed and not yet ended, by id. */
  private readonly active = new Map<string, Active>()
  private readonly used = new Map<string, Amounts>()
  /** Jobs waiting to be placed. */
  private readonly waiting = new WaitQueue()
  /** How long placed attempts ran, to decide whether nodes get work queued ahead. */
  private readonly runTimes = new RunTimeAverage()
  private passing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private tickTimer: NodeJS.Timeout | undefined
  private readonly onPeerState = (peer: string, state: Liveness): void => {
    if (!LOST.has(state) || !this.holding) return
    for (const [id, active] of this.active) if (active.node === peer) this.dirty.add(id)
    this.soon()
  }
  private readonly onCoordinator = (): void => this.soon()

  constructor(private readonly c: SchedulerComponents) {}

  start(): void {
    if (this.tickTimer !== undefined) return
    this.c.membership.on('peer:state', this.onPeerState)
    this.c.coordinator.on('change', this.onCoordinator)
    this.tickTimer = setInterval(() => this.soon(), SCHEDULE_TICK_MS)
    this.tickTimer.unref()
    this.soon()
  }

  async stop(): Promise<void> {
    clearInterval(this.tickTimer)
    clearTimeout(this.timer)
    this.tickTimer = undefined
    this.timer = undefined
    this.c.membership.off('peer:state', this.onPeerState)
    this.c.coordinator.off('change', this.onCoordinator)
    await this.passing
    this.release()
  }

  /** Jobs waiting for placement (0 unless coordinating). */
  waitingCount(): number {
    return this.waiting.size
  }

  /** A record of this job changed (called by the service for every job record). */
  changed(id: string): void {
    if (!this.holding) return
    this.dirty.add(id)
    this.soon()
  }

  private soon(): void {
    if (this.timer !== undefined || this.tickTimer === undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.passing !== undefined) {
        void this.passing.then(() => this.soon())
        return
      }
      this.passing = this.pass()
        .catch((err: Error) => this.log(err))
        .finally(() => {
          this.passing = undefined
        })
    }, SCHEDULE_DEBOUNCE_MS)
  }

  private soonAfter(ms: number): void {
    setTimeout(() => this.soon(), ms).unref()
  }

  private log(err: Error): void {
    if (err instanceof NotCoordinatorError || err instanceof StaleTermError) {
      this.c.log.debug({ err: err.message }, 'scheduling pass ended: no longer coordinator')
      this.release()
      return
    }
    this.c.log.error({ err }, 'scheduling pass failed')
  }

  private release(): void {
    this.holding = false
    this.dirty.clear()
    this.active.clear()
    this.used.clear()
    this.waiting.clear()
  }

  private async pass(): Promise<void> {
    if (!this.c.coordinator.isHolder()) {
      if (this.holding) this.release()
      return
    }
    const started = performance.now()
    const term = this.c.coordinator.term()
    if (!this.holding) this.rebuild()
    const writes: LocalWrite[] = []
    // 10,000 jobs arriving at once are looked at over several passes, so the daemon keeps answering (and
    // renewing its lease) between them.
    let looked = 0
    for (const id of this.dirty) {
      if (looked++ === CLASSIFY_SLICE) break
      this.dirty.delete(id)
      this.classify(id, writes)
    }
    if (this.dirty.size === 0) this.rebuilding = false
    this.checkStarts(writes)
    // Until every job has been looked at once after taking the role, what is already placed is not known.
    if (this.rebuilding) this.soon()
    else if (performance.now() - this.holdingSince >= HANDOVER_SETTLE_MS) this.place(writes)
    else this.soonAfter(HANDOVER_SETTLE_MS)
    this.c.metrics.passSeconds.inc((performance.now() - started) / 1000)
    for (let i = 0; i < writes.length; i += PLACEMENT_BATCH) {
      await this.c.coordinator.writeAsCoordinator(term, writes.slice(i, i + PLACEMENT_BATCH))
    }
    if (writes.length > 0 || this.dirty.size > 0) this.soon()
  }

  /** Took the role: every job is looked at once. */
  private rebuild(): void {
    this.holding = true
    this.rebuilding = true
    this.holdingSince = performance.now()
    for (const record of this.c.state.list(JOB_KIND)) this.dirty.add(subjectOf(record.key))
    this.c.log.info({ jobs: this.dirty.size }, 'scheduler active on this coordinator')
  }

  private forget(id: string): void {
    const active = this.active.get(id)
    if (active !== undefined) {
      this.used.set(active.node, subtractAmounts(this.used.get(active.node)!, active.need))
      this.active.delete(id)
    }
    this.waiting.delete(id)
  }

  private wait(spec: JobSpec): void {
    this.waiting.add(spec)
  }

  private activate(id: string, node: string, need: Amounts): void {
    this.active.set(id, { node, need, since: performance.now() })
    this.used.set(node, addAmounts(this.used.get(node) ?? ZERO, need))
  }

  /** Looks at one job whose records changed; decides what it needs now, queuing a write if it needs one. */
  private classify(id: string, writes: LocalWrite[]): void {
    const job = readJob(this.c.state, id)
    const previous = this.active.get(id)
    this.forget(id)
    if (job === undefined) return
    const { spec, assign, control } = job
    const generation = assign?.generation ?? 0
    const now = this.c.now()
    const write = (value: AssignValue): void => {
      writes.push({ key: assignKey(id), value })
    }
    if (control !== undefined && control.generation > generation && !control.cancel) {
      write(pendingValue({ attempt: (assign?.attempt ?? 0) + 1, generation: control.generation, now }))
      return
    }
    // An attempt this coordinator had placed, seen ending: how long jobs run decides whether to queue ahead.
    const ended = job.run
    if (previous !== undefined && (ended?.state === 'succeeded' || ended?.state === 'failed'))
      this.runTimes.observe(ended.startedAt, ended.finishedAt)
    const derived = deriveState(job)
    if (isFinal(derived.state)) return
    const cancelled = cancelRequested(job)
    if (assign === undefined || assign.phase === 'pending') {
      if (cancelled) {
        write(finalValue(assign, generation, 'cancelled', 'cancelled before it ran', now))
        return
      }
      this.wait(spec)
      return
    }
    // Assigned: still running, ended (perhaps to run again), or on a node that was lost.
    const node = assign.node!
    const run = job.run
    if (run !== undefined && run.state !== 'running') {
      if (!willRestart(spec, run, assign.failures) || cancelled) return
      const counts = run.state !== 'lost' && !(spec.restart === 'always' && ranLong(run))
      const failures = assign.failures + (counts ? 1 : 0)
      const backoff = counts ? Math.min(MAX_BACKOFF_MS, spec.backoffMs * 2 ** (failures - 1)) : 0
      write({
        ...pendingValue({ attempt: assign.attempt + 1, generation, now }),
        failures,
        retryAt: backoff > 0 ? now + backoff : null,
        reason: derived.reason,
      })
      return
    }
    if (LOST.has(this.c.membership.livenessOf(node))) {
      if (cancelled) {
        write(finalValue(assign, generation, 'cancelled', 'cancelled; its node was lost', now))
        return
      }
      this.c.metrics.moved.inc({ reason: 'node-lost' })
      write({
        ...pendingValue({ attempt: assign.attempt + 1, generation, now }),
        failures: assign.failures,
        reason: `its node ${this.c.membership.nameOf(node)} was lost during attempt ${assign.attempt}`,
      })
      return
    }
    this.activate(id, node, spec.resources)
    if (previous !== undefined && run === undefined && previous.node === node) {
      this.active.get(id)!.since = previous.since
    }
  }

  /**
   * Assignments their node never reported running within the start timeout go back to pending; the clock
   * only runs while the job would fit beside what its node reports running (work queued ahead, or placed
   * twice around a handover, waits there for room without being late).
   */
  private checkStarts(writes: LocalWrite[]): void {
    const now = performance.now()
    let running: Map<string, Amounts> | undefined
    let capacities: Map<string, Amounts> | undefined
    for (const [id, active] of this.active) {
      if (now - active.since < this.c.startTimeoutMs) continue
      const job = readJob(this.c.state, id)
      if (job === undefined || job.run !== undefined || job.assign === undefined) {
        active.since = Number.POSITIVE_INFINITY
        continue
      }
      running ??= this.runningUse()
      capacities ??= new Map(this.candidates().map((node) => [node.id, node.capacity]))
      const capacity = capacities.get(active.node)
      if (capacity !== undefined && !fits(active.need, running.get(active.node) ?? ZERO, capacity)) {
        active.since = now
        continue
      }
      this.c.metrics.moved.inc({ reason: 'not-started' })
      this.forget(id)
      writes.push({
        key: assignKey(id),
        value: {
          ...pendingValue({
            attempt: job.assign.attempt + 1,
            generation: job.assign.generation,
            now: this.c.now(),
          }),
          failures: job.assign.failures,
          reason: `node ${this.c.membership.nameOf(active.node)} did not start attempt ${job.assign.attempt}`,
        },
      })
    }
  }

  /** What each node reports running, by the resources the jobs asked for. */
  private runningUse(): Map<string, Amounts> {
    const use = new Map<string, Amounts>()
    for (const [id, active] of this.active) {
      if (readJob(this.c.state, id)?.run?.state !== 'running') continue
      use.set(active.node, addAmounts(use.get(active.node) ?? ZERO, active.need))
    }
    return use
  }

  /** Places waiting jobs in order (priority, then age) on the best node that fits; never over-commits. */
  private place(writes: LocalWrite[]): void {
    if (this.waiting.size === 0) return
    const candidates = this.candidates()
    const aheadShare = this.aheadShare()
    const now = this.c.now()
    const noRoom = new Set<string>()
    const unplaceable = new Map<string, string | undefined>()
    const holders = new Map<string, ReadonlySet<string>>()
    for (const { spec, shape } of this.waiting.inOrder()) {
      if (noRoom.size === this.waiting.shapeCount) break
      if (noRoom.has(shape)) continue
      const records = readJob(this.c.state, spec.id)
      if (records === undefined) continue
      const { assign } = records
      if (assign?.retryAt != null && assign.retryAt > now) continue
      const blocked = this.parentsBlock(records, writes, now)
      if (blocked !== undefined) {
        if (blocked === 'failed') this.waiting.delete(spec.id)
        continue
      }
      let imageHolders: ReadonlySet<string> = new Set()
      if (spec.image !== null) {
        imageHolders = holders.get(spec.image) ?? this.c.imageHolders(spec.image)
        holders.set(spec.image, imageHolders)
      }
      const node = chooseNode(
        spec,
        candidates,
        this.used,
        imageHolders,
        spec.restart === 'always' ? 0 : aheadShare,
      )
      if (node === undefined) {
        // Waiting for room is normal and says nothing; a job no live node could ever run says why.
        const reason = unplaceable.has(shape) ? unplaceable.get(shape) : neverFits(spec, candidates)
        unplaceable.set(shape, reason)
        // (A service is never queued ahead: jobs of its shape behind it may still be.)
        if (reason === undefined && (spec.restart !== 'always' || aheadShare === 0)) noRoom.add(shape)
        else if (assign?.reason !== reason) {
          writes.push({
            key: assignKey(spec.id),
            value: { ...(assign ?? pendingValue({ attempt: 1, generation: 0, now })), reason, at: now },
          })
        }
        continue
      }
      writes.push({
        key: assignKey(spec.id),
        value: {
          ...pendingValue({ attempt: assign?.attempt ?? 1, generation: assign?.generation ?? 0, now }),
          phase: 'assigned',
          node: node.id,
          failures: assign?.failures ?? 0,
        },
      })
      this.c.metrics.placements.inc()
      this.activate(spec.id, node.id, spec.resources)
      this.waiting.delete(spec.id)
    }
  }

  /**
   * Share of a node's capacity placed beyond it while jobs are short, about QUEUE_AHEAD_MS of work: it waits
   * on the node and starts as soon as a slot frees there.
   */
  private aheadShare(): number {
    const ms = this.runTimes.ms
    if (ms === undefined || ms >= QUEUE_AHEAD_MAX_RUN_MS) return 0
    return Math.min(QUEUE_AHEAD_MAX_SHARE, QUEUE_AHEAD_MS / Math.max(ms, 1))
  }

  /** Undefined if every parent succeeded; `failed` if one ended otherwise (this job is failed); else `wait`. */
  private parentsBlock(
    records: JobRecords,
    writes: LocalWrite[],
    now: number,
  ): 'failed' | 'wait' | undefined {
    for (const parentId of records.spec.after) {
      const parent = readJob(this.c.state, parentId)
      if (parent === undefined) return 'wait'
      const state = deriveState(parent).state
      if (state === 'succeeded') continue
      if (!isFinal(state)) return 'wait'
      const generation = records.assign?.generation ?? 0
      writes.push({
        key: assignKey(records.spec.id),
        value: finalValue(records.assign, generation, 'failed', `dependency ${parentId} ${state}`, now),
      })
      return 'failed'
    }
    return undefined
  }

  private candidates(): Candidate[] {
    return this.c.membership.aliveNodes().map((node) => ({
      id: node.peerId,
      name: node.name,
      labels: node.labels,
      drivers: node.drivers,
      capacity: capacityOf(node.resources),
    }))
  }
}

/** An assignment waiting to be placed; the other phases are built on it. */
function pendingValue({
  attempt,
  generation,
  now,
}: {
  attempt: number
  generation: number
  now: number
}): AssignValue {
  return {
    attempt,
    generation,
    phase: 'pending',
    node: null,
    outcome: null,
    reason: null,
    failures: 0,
    retryAt: null,
    at: now,
  }
}

function finalValue(
  assign: AssignValue | undefined,
  generation: number,
  outcome: 'failed' | 'cancelled',
  reason: string,
  now: number,
): AssignValue {
  return {
    ...pendingValue({ attempt: assign?.attempt ?? 1, generation, now }),
    phase: 'final',
    outcome,
    reason,
    failures: assign?.failures ?? 0,
  }
}

function ranLong(run: { startedAt: number | null; finishedAt: number | null }): boolean {
  return (
    run.startedAt !== null &&
    run.finishedAt !== null &&
    run.finishedAt - run.startedAt >= SERVICE_HEALTHY_RUN_MS
  )
}
