// The scheduler, active only on the coordinator: places waiting jobs, retries, fails dependents, moves lost work.
import type { Logger } from 'pino'
import type { Coordinator } from '../../coordinator/index.js'
import { NotCoordinatorError, StaleTermError } from '../../errors.js'
import type { Liveness, Membership } from '../../membership/index.js'
import type { LocalWrite } from '../../state/index.js'
import {
  ASSIGNMENT_RECORDS_PER_WRITE,
  CLASSIFY_SLICE,
  IMAGE_LOOKUP_RECHECK_MS,
  QUEUE_AHEAD_MAX_RUN_MS,
  QUEUE_AHEAD_MAX_SHARE,
  QUEUE_AHEAD_MS,
  SCHEDULE_BUSY_GAP_MS,
  SCHEDULE_DEBOUNCE_MS,
  SCHEDULE_FLOOD_GAP_MS,
  SCHEDULE_FLOOD_WRITES,
  SCHEDULE_NOTE_GAP_MS,
  SCHEDULE_TICK_MS,
} from '../constants.js'
import type { JobBook } from '../job-book.js'
import type { JobMetrics } from '../metrics.js'
import { type Amounts, type Candidate, capacityOf, fits, subtractAmounts, ZERO } from '../placement.js'
import type { AssignValue } from '../records.js'
import { RunTimeAverage } from '../run-time.js'
import { WaitQueue } from '../wait-queue.js'
import { pendingValue } from './assignment-values.js'
import { classifyJob, LOST } from './classify.js'
import { placeWaiting } from './place.js'
import { Placements } from './placements.js'

/** What the scheduler needs of the coordinator: the role, its term, fenced writes, and news of changes. */
export interface SchedulerCoordinator extends Pick<Coordinator, 'isHolder' | 'term' | 'writeAsCoordinator'> {
  on(event: 'change', listener: () => void): unknown
  off(event: 'change', listener: () => void): unknown
}

/** What the scheduler needs of membership: the nodes it may place on, who is lost, names for reasons. */
export interface SchedulerMembership extends Pick<Membership, 'aliveNodes' | 'livenessOf' | 'nameOf'> {
  on(event: 'peer:state', listener: (peer: string, state: Liveness) => void): unknown
  on(event: 'peer:drained', listener: (peer: string, drained: boolean) => void): unknown
  off(event: 'peer:state', listener: (peer: string, state: Liveness) => void): unknown
  off(event: 'peer:drained', listener: (peer: string, drained: boolean) => void): unknown
  /** What a node says of itself (its drained flag is read from it). */
  describe(peer: string): { drained?: boolean } | undefined
}

export interface SchedulerComponents {
  jobs: JobBook
  coordinator: SchedulerCoordinator
  membership: SchedulerMembership
  /** Per node, the share (0..1) of an image's layer bytes it holds (see PlaceContext.imageBytesHeld). */
  imageBytesHeld(ref: string): ReadonlyMap<string, number> | undefined
  metrics: JobMetrics
  log: Logger
  now(): number
  /** An assignment unstarted this long, with room for it beside what its node runs, is moved. */
  startTimeoutMs: number
  /** After taking the role, placing waits this long (work the last coordinator placed is still arriving). */
  handoverSettleMs: number
  /** Notes of why jobs wait are written at most this often. @default SCHEDULE_NOTE_GAP_MS */
  noteGapMs?: number
  /** What other parts (services) hold on each node: jobs are placed in what is left. @default nothing */
  reserved?(node: string): Amounts
}

export class Scheduler {
  private holding = false
  /** performance.now() when this node took the role: placing waits HANDOVER_SETTLE_MS after it. */
  private holdingSince = 0
  /** Set on taking the role until every job has been looked at once. */
  private rebuilding = false
  private readonly dirty = new Set<string>()
  private readonly placements = new Placements()
  /** Jobs waiting to be placed. */
  private readonly waiting = new WaitQueue()
  /** How long placed attempts ran, to decide whether nodes get work queued ahead. */
  private readonly runTimes = new RunTimeAverage()
  private passing: Promise<void> | undefined
  /**
   * performance.now() before which no pass follows: the busy gap after the start of the last pass that wrote
   * assignments (longer after a flood, see SCHEDULE_FLOOD_WRITES).
   */
  private nextPassNotBefore = Number.NEGATIVE_INFINITY
  /** performance.now() when the last pass that wrote notes began (see SCHEDULE_NOTE_GAP_MS). */
  private lastNotesAt = Number.NEGATIVE_INFINITY
  private timer: NodeJS.Timeout | undefined
  private tickTimer: NodeJS.Timeout | undefined
  private readonly onPeerState = (peer: string, state: Liveness): void => {
    if (LOST.has(state)) this.revisitNode(peer)
  }
  /** A node drained: its services move (classify moves them); undrained: waiting jobs may go there. */
  private readonly onDrained = (peer: string): void => this.revisitNode(peer)
  private readonly onCoordinator = (): void => this.soon()

  constructor(private readonly c: SchedulerComponents) {}

  start(): void {
    if (this.tickTimer !== undefined) return
    this.c.membership.on('peer:state', this.onPeerState)
    this.c.membership.on('peer:drained', this.onDrained)
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
    this.c.membership.off('peer:drained', this.onDrained)
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

  /** Runs one pass now (tests use it to step the scheduler); resolves when its writes are durable. */
  async passNow(): Promise<void> {
    await this.passing
    await this.pass()
  }

  /** Looks again at every job placed on the node (it was lost or drained), in the next pass. */
  private revisitNode(peer: string): void {
    if (!this.holding) return
    for (const id of this.placements.on(peer)) this.dirty.add(id)
    this.soon()
  }

  private soon(): void {
    if (this.timer !== undefined || this.tickTimer === undefined) return
    // While busy, a pass that wrote is followed by the next only after the busy gap (see SCHEDULE_BUSY_GAP_MS).
    const delay = Math.max(SCHEDULE_DEBOUNCE_MS, this.nextPassNotBefore - performance.now())
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
    }, delay)
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
    this.placements.clear()
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
    const assignments: Array<[id: string, value: AssignValue]> = []
    const write = (id: string, value: AssignValue): void => {
      assignments.push([id, value])
    }
    // Written with this pass if the last notes are old enough; otherwise a later pass finds them again.
    const notesDue = started >= this.lastNotesAt + (this.c.noteGapMs ?? SCHEDULE_NOTE_GAP_MS)
    let noted = false
    const note = (id: string, value: AssignValue): void => {
      if (!notesDue) return
      noted = true
      write(id, value)
    }
    const now = this.c.now()
    const classify = {
      placements: this.placements,
      waiting: this.waiting,
      runTimes: this.runTimes,
      livenessOf: (node: string) => this.c.membership.livenessOf(node),
      nameOf: (node: string) => this.c.membership.nameOf(node),
      movedOffLostNode: () => this.c.metrics.moved.inc({ reason: 'node-lost' }),
      isDrained: (node: string) => this.c.membership.describe(node)?.drained === true,
      movedOffDrainedNode: () => this.c.metrics.moved.inc({ reason: 'drained' }),
      now,
      write,
    }
    // 10,000 jobs arriving at once are looked at over several passes, so the daemon keeps answering (and
    // renewing its lease) between them.
    let looked = 0
    for (const id of this.dirty) {
      if (looked++ === CLASSIFY_SLICE) break
      this.dirty.delete(id)
      classifyJob(id, this.c.jobs.read(id), classify)
    }
    if (this.dirty.size === 0) this.rebuilding = false
    this.checkStarts(write)
    // Until every job has been looked at once after taking the role, what is already placed is not known.
    if (this.rebuilding) this.soon()
    else if (performance.now() - this.holdingSince >= this.c.handoverSettleMs) {
      placeWaiting({
        jobs: this.c.jobs,
        waiting: this.waiting,
        placements: this.placements,
        candidates: this.candidates(),
        aheadShare: this.aheadShare(),
        imageBytesHeld: (ref) => this.c.imageBytesHeld(ref),
        imageLookupPending: () => this.soonAfter(IMAGE_LOOKUP_RECHECK_MS),
        now,
        write,
        note,
        placed: () => this.c.metrics.placements.inc(),
      })
    } else this.soonAfter(this.c.handoverSettleMs)
    this.c.metrics.passSeconds.inc((performance.now() - started) / 1000)
    // One record per node for the pass (more if it is large), written in groups between which the daemon answers.
    if (assignments.length > 0) {
      const flood = assignments.length >= SCHEDULE_FLOOD_WRITES
      this.nextPassNotBefore = started + (flood ? SCHEDULE_FLOOD_GAP_MS : SCHEDULE_BUSY_GAP_MS)
    }
    if (noted) this.lastNotesAt = started
    const records: LocalWrite[] = this.c.jobs.assignmentWrites(assignments)
    for (let i = 0; i < records.length; i += ASSIGNMENT_RECORDS_PER_WRITE) {
      await this.c.coordinator.writeAsCoordinator(term, records.slice(i, i + ASSIGNMENT_RECORDS_PER_WRITE))
    }
    if (assignments.length > 0 || this.dirty.size > 0) this.soon()
  }

  /** Took the role: every job is looked at once. */
  private rebuild(): void {
    this.holding = true
    this.rebuilding = true
    this.holdingSince = performance.now()
    for (const id of this.c.jobs.ids()) this.dirty.add(id)
    this.c.log.info({ jobs: this.dirty.size }, 'scheduler active on this coordinator')
  }

  /**
   * Assignments their node never reported running within the start timeout go back to pending; the clock
   * only runs while the job would fit beside what its node reports running (work queued ahead, or placed
   * twice around a handover, waits there for room without being late).
   */
  private checkStarts(write: (id: string, value: AssignValue) => void): void {
    const now = performance.now()
    let running: Map<string, Amounts> | undefined
    let capacities: Map<string, Amounts> | undefined
    for (const [id, active] of this.placements.active) {
      if (now - active.since < this.c.startTimeoutMs) continue
      const job = this.c.jobs.read(id)
      if (job === undefined || job.run !== undefined || job.assign === undefined) {
        active.since = Number.POSITIVE_INFINITY
        continue
      }
      running ??= this.placements.use((jobId) => this.c.jobs.read(jobId)?.run?.state === 'running')
      capacities ??= new Map(this.candidates().map((node) => [node.id, node.capacity]))
      const capacity = capacities.get(active.node)
      if (capacity !== undefined && !fits(active.need, running.get(active.node) ?? ZERO, capacity)) {
        active.since = now
        continue
      }
      this.c.metrics.moved.inc({ reason: 'not-started' })
      this.placements.forget(id)
      write(id, {
        ...pendingValue({
          attempt: job.assign.attempt + 1,
          generation: job.assign.generation,
          now: this.c.now(),
        }),
        failures: job.assign.failures,
        reason: `node ${this.c.membership.nameOf(active.node)} did not start attempt ${job.assign.attempt}`,
      })
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

  private candidates(): Candidate[] {
    return this.c.membership.aliveNodes().map((node) => ({
      id: node.peerId,
      name: node.name,
      labels: node.labels,
      drivers: node.drivers,
      hostNetwork: node.hostNetwork ?? false,
      drained: node.drained === true,
      capacity: subtractAmounts(capacityOf(node.resources), this.c.reserved?.(node.peerId) ?? ZERO),
    }))
  }

  /** What the jobs this coordinator placed (and has not seen end) need, by node. */
  placedUsage(): ReadonlyMap<string, Amounts> {
    return this.placements.used
  }
}
