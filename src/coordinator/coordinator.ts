// The coordinator role: a lease claimed by rank and held while its holder lives, step-down, and fenced writes.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { NotCoordinatorError, StaleTermError } from '../errors.js'
import { partLogger } from '../logger.js'
import type { KindHandle, LocalWrite, RecordChange, StateRecord, WriteResult } from '../state/index.js'
import { systemClock, termCeiling } from '../state/index.js'
import {
  CLAIM_SETTLE_MS,
  CLAIM_STAGGER_MS,
  COORDINATOR_TICK_MS,
  HOLDER_STALL_THRESHOLD_MS,
  LEASE_MS,
  NEW_LEASE_GRACE_MS,
  QUIET_AFTER_STALL_MS,
  RECENTLY_HEARD_MS,
  STALL_THRESHOLD_MS,
  STARTUP_GRACE_MS,
} from './constants.js'
import { COORDINATOR_LEASE_ID, historyAfter, type LeaseValue, leaseKind } from './lease.js'
import { type CoordinatorMetrics, createCoordinatorMetrics, type StepDownReason } from './metrics.js'
import type {
  CoordinatorComponents,
  CoordinatorEvents,
  CoordinatorInit,
  CoordinatorView,
  Role,
} from './types.js'

export class Coordinator extends EventEmitter<CoordinatorEvents> {
  private readonly log: Logger
  private readonly metrics: CoordinatorMetrics
  private readonly leases: KindHandle<LeaseValue>
  private readonly self: string
  private role: Role = 'follower'
  /** The term this node claimed or holds (meaningful while not a follower). */
  private ownTerm = 0
  private startedAt = 0
  private claimedAt = 0
  /** Monotonic time the lease was last seen lapsed after being held (claims are staggered from here). */
  private lapsedSince: number | undefined
  /** No claim before this monotonic time: a new lease arrived whose holder this node held dead. */
  private newLeaseGraceUntil = 0
  /** The lease record whose arrival was announced; the state may hold a newer one not yet announced to us. */
  private observedLease: StateRecord<LeaseValue> | undefined
  /** Until then this node neither claims nor acts: it was stalled, and news may wait unread in its sockets. */
  private quietUntil = 0
  private lastTick = 0
  private writing = false
  private clockAheadMs: number | undefined
  private timer: NodeJS.Timeout | undefined
  private unwatch: (() => void) | undefined
  private readonly wallNow: () => number

  constructor(
    private readonly components: CoordinatorComponents,
    private readonly init: CoordinatorInit,
  ) {
    super()
    this.setMaxListeners(0)
    this.log = partLogger(components.logger, 'coordinator')
    this.leases = components.state.kind(leaseKind)
    this.self = components.mesh.peerId
    const clock = init.clock ?? systemClock
    this.wallNow = () => clock.now()
    this.metrics = createCoordinatorMetrics(components.metrics, {
      term: () => this.term(),
      isHolder: () => this.isHolder(),
    })
  }

  async start(): Promise<void> {
    if (this.timer !== undefined) return
    this.startedAt = performance.now()
    this.lastTick = this.startedAt
    this.observedLease = this.lease()
    this.unwatch = this.leases.watch((change) => this.observe(change))
    this.timer = setInterval(() => this.tick(), COORDINATOR_TICK_MS)
    this.timer.unref()
    if (this.init.eligible === false)
      this.log.info('this node does not stand for coordinator (--no-coordinator)')
    // A lease this node held before it restarted: nothing it placed then is known to this run, so it does not
    // act on it; releasing it lets the others (or this node) elect at once instead of waiting for a death.
    const lease = this.lease()
    if (lease?.value != null && lease.value.holder === this.self && lease.value.released !== true) {
      await this.release(lease.value, lease.term)
    }
  }

  /** Stops; a holder releases its lease so that the others elect at once. */
  async stop(): Promise<void> {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.timer = undefined
    this.unwatch?.()
    if (!this.isHolder()) return
    const lease = this.lease()?.value
    this.stepDown('released')
    if (lease != null) await this.release(lease, lease.term)
  }

  private async release(lease: LeaseValue, term: number): Promise<void> {
    await this.leases
      .put(COORDINATOR_LEASE_ID, { ...lease, expiresAt: this.wallNow(), released: true }, { term })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'could not release the coordinator lease'))
  }

  /** The newest lease this node knows (the highest term: leases merge by term first). */
  lease(): StateRecord<LeaseValue> | undefined {
    return this.leases.get(COORDINATOR_LEASE_ID)
  }

  /** The highest coordinator term this node has seen. */
  term(): number {
    return this.lease()?.term ?? 0
  }

  /** True while this node may act as coordinator: it holds the newest lease, and it was not just stalled. */
  isHolder(): boolean {
    if (this.role !== 'holder' || performance.now() < this.quietUntil) return false
    // A newer lease may be merged already and only its announcement pending: it counts at once.
    const lease = this.lease()?.value
    return lease?.holder === this.self && lease.term === this.ownTerm && lease.released !== true
  }

  /** The holder as this node sees it now, or undefined if the lease lapsed or there never was one. */
  holder(): string | undefined {
    const lease = this.lease()?.value
    return lease != null && this.held(lease) ? lease.holder : undefined
  }

  /**
   * Writes records as coordinator under `term` (the fencing token). Refused unless this node holds that
   * term right now; receivers refuse them too once they know a newer term (see lease.ts, judgeFenced).
   * `unfenced` go first in the same write (kinds without a term): one write is merged, announced and
   * gossiped as one, so nothing sees one half of it without the other.
   */
  async writeAsCoordinator(
    term: number,
    writes: readonly LocalWrite[],
    unfenced: readonly LocalWrite[] = [],
  ): Promise<WriteResult[]> {
    if (!this.isHolder()) {
      throw new NotCoordinatorError(`this node does not hold the coordinator role (term ${this.term()})`)
    }
    if (term !== this.ownTerm) {
      throw new StaleTermError(`term ${term} is not the coordinator term this node holds (${this.ownTerm})`)
    }
    return this.components.state.write([...unfenced, ...writes.map((write) => ({ ...write, term }))])
  }

  view(): CoordinatorView {
    const record = this.lease()
    const lease = record?.value
    const role: Role = this.role === 'holder' && !this.isHolder() ? 'follower' : this.role
    const base = { role, eligible: this.eligible(), term: record?.term ?? 0, expiresAt: null }
    if (lease == null) {
      return { ...base, status: 'none', holder: null, holderName: null, self: false, since: null }
    }
    return {
      ...base,
      status: this.held(lease) ? 'held' : 'lapsed',
      holder: lease.holder,
      holderName: lease.holderName,
      self: lease.holder === this.self && this.isHolder(),
      since: new Date(lease.since).toISOString(),
    }
  }

  /**
   * Whether `lease` still holds in this node's view: its holder is alive or suspect here (not declared dead, not
   * left), did not release it, and runs a clock we accept. Our own lease holds while we act on it.
   */
  private held(lease: LeaseValue): boolean {
    if (lease.released === true) return false
    if (lease.holder === this.self) return this.role !== 'follower' && lease.term === this.ownTerm
    const { membership } = this.components
    const liveness = membership.livenessOf(lease.holder)
    if (liveness === 'dead') {
      // Declared dead by others while this node still hears from it: a verdict about to be refuted.
      const heard = membership.lastSeen(lease.holder)
      if (heard === undefined || this.wallNow() - heard > RECENTLY_HEARD_MS) return false
    } else if (liveness !== 'alive' && liveness !== 'suspect') {
      return false
    }
    return !membership.peerClockAhead(lease.holder)
  }

  private observe(change: RecordChange<LeaseValue>): void {
    const { record, value: lease } = change
    // Leases are never deleted nor fenced: every change is a new lease.
    if (record === undefined || lease === undefined) return
    this.observedLease = record
    const previous = change.previous?.value ?? undefined
    const changed = previous === undefined || previous.holder !== lease.holder || previous.term !== lease.term
    if (changed && lease.holder !== this.self && lease.released !== true && !this.held(lease)) {
      this.newLeaseGraceUntil = performance.now() + NEW_LEASE_GRACE_MS
    }
    if (changed) {
      this.metrics.changes.inc()
      this.log.info(
        { holder: lease.holder, name: lease.holderName, term: lease.term },
        `coordinator is ${lease.holderName} (term ${lease.term})`,
      )
    }
    if (record.term > (change.previous?.term ?? 0)) {
      // A newer term fences off whatever older coordinators wrote after it began.
      this.components.state
        .refence()
        .catch((err: Error) => this.log.error({ err: err.message }, 'could not re-judge fenced records'))
    }
    const ours = lease.holder === this.self && lease.term === this.ownTerm
    if (this.role !== 'follower' && !ours) {
      this.stepDown('superseded', `${lease.holderName} holds term ${lease.term}`)
    }
    if (changed || lease.released === true) this.emit('change', this.view())
  }

  private tick(): void {
    const now = performance.now()
    const late = now - this.lastTick - COORDINATOR_TICK_MS
    this.lastTick = now
    if (late > STALL_THRESHOLD_MS && (this.role !== 'holder' || late > HOLDER_STALL_THRESHOLD_MS)) {
      // What we believe about the lease may be long out of date: hear the news before claiming or acting.
      if (now >= this.quietUntil) {
        this.log.warn(
          { stalledMs: Math.round(late) },
          'this process was stalled; holding off coordinator claims and acts',
        )
      }
      this.quietUntil = now + QUIET_AFTER_STALL_MS
    }
    this.checkClock()
    const lease = this.lease()?.value
    const held = lease != null && this.held(lease)
    if (held) this.lapsedSince = undefined
    else this.lapsedSince ??= now
    if (this.role === 'candidate') {
      if (now - this.claimedAt >= CLAIM_SETTLE_MS) this.settle()
    } else if (this.role === 'follower' && this.mayClaim(now)) {
      this.claim()
    }
  }

  private checkClock(): void {
    const ahead = this.components.membership.clockAheadMs()
    if ((ahead === undefined) === (this.clockAheadMs === undefined)) {
      this.clockAheadMs = ahead
      return
    }
    this.clockAheadMs = ahead
    if (ahead === undefined) {
      this.log.info('this node’s clock agrees with its peers again; it stands for coordinator again')
      return
    }
    this.log.error(
      { aheadMs: Math.round(ahead) },
      `this node’s clock runs ${(ahead / 1000).toFixed(1)} s ahead of its peers’; they refuse its records, so it will not stand for coordinator until the clock is fixed`,
    )
    if (this.role !== 'follower') this.stepDown('clock-ahead')
  }

  private eligible(): boolean {
    return this.init.eligible !== false && this.clockAheadMs === undefined
  }

  private mayClaim(now: number): boolean {
    if (!this.eligible() || now < this.quietUntil || this.writing || this.lapsedSince === undefined)
      return false
    if (now < this.newLeaseGraceUntil) return false
    // A lease merged but not yet announced (it is being stored) is news we have not judged yet: no claim.
    if (this.lease() !== this.observedLease) return false
    // Just started: sync may still bring the lease everyone else knows.
    const lapsedAt = Math.max(this.lapsedSince, this.startedAt + STARTUP_GRACE_MS)
    const rank = this.rank()
    return rank >= 0 && now >= lapsedAt + rank * CLAIM_STAGGER_MS
  }

  /**
   * This node's place among the alive, eligible nodes it knows, by peer id (the same order everywhere).
   * The holder of the lapsed lease is left out: it is dead, gone, or refused.
   */
  private rank(): number {
    const lapsedHolder = this.lease()?.value?.holder
    const candidates = new Set(this.components.membership.coordinatorCandidates())
    if (lapsedHolder !== undefined) candidates.delete(lapsedHolder)
    candidates.add(this.self)
    return [...candidates].sort().indexOf(this.self)
  }

  private claim(): void {
    const { state } = this.components
    const term = this.term() + 1
    const claim = state.clockNow()
    if (term > termCeiling(claim.wall)) {
      // A term raised to the ceiling (by a hostile claim): it rises with time, so claiming again soon succeeds.
      this.log.debug({ term }, `term ${term} is beyond what a claim may carry yet; claiming later`)
      return
    }
    const now = this.wallNow()
    const value: LeaseValue = {
      holder: this.self,
      holderName: this.init.name,
      term,
      claim,
      since: now,
      expiresAt: now + LEASE_MS,
      durationMs: LEASE_MS,
      history: historyAfter(this.lease()?.value ?? undefined),
    }
    this.writing = true
    this.ownTerm = term
    this.role = 'candidate'
    this.claimedAt = performance.now()
    this.metrics.claims.inc()
    this.log.info({ term }, `claiming the coordinator role for term ${term}`)
    this.leases
      .put(COORDINATOR_LEASE_ID, value, { term })
      .then((result) => {
        if (!result.applied && this.role === 'candidate') this.role = 'follower'
      })
      .catch((err: Error) => {
        this.log.error({ err: err.message }, 'could not write the coordinator claim')
        if (this.role === 'candidate') this.role = 'follower'
      })
      .finally(() => {
        this.writing = false
      })
  }

  /** After the settle time: still ours means no competing claim won, so act as coordinator. */
  private settle(): void {
    const lease = this.lease()?.value
    if (lease?.holder !== this.self || lease.term !== this.ownTerm) {
      this.role = 'follower'
      return
    }
    this.role = 'holder'
    this.metrics.elections.inc()
    this.log.info({ term: this.ownTerm }, `this node is coordinator for term ${this.ownTerm}`)
    this.emit('change', this.view())
  }

  private stepDown(reason: StepDownReason, detail?: string): void {
    const wasHolder = this.role === 'holder'
    this.role = 'follower'
    if (!wasHolder) return
    this.metrics.stepDowns.inc({ reason })
    this.log.warn({ term: this.ownTerm, reason, detail }, `stepped down as coordinator (${reason})`)
    this.emit('change', this.view())
  }
}
