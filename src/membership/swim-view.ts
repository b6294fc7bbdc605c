// The liveness view (SWIM with Lifeguard's suspicion): what this node's probes and the others' declarations say of each member.
import { EventEmitter } from 'node:events'
import {
  INDIRECT_CHECKS,
  LIVENESS_TICK_MS,
  STALL_GRACE_MS,
  SUSPICION_MAX_MS,
  SUSPICION_MIN_MS,
} from './constants.js'
import type { LivenessValue } from './liveness-record.js'

export type Liveness = 'alive' | 'suspect' | 'dead' | 'left'

export interface SwimTimings {
  suspicionMinMs: number
  suspicionMaxMs: number
}

export interface SwimViewEvents {
  'peer:state': [peer: string, state: Liveness, previous: Liveness | undefined]
}

/** What a node's own record says, as far as liveness goes. */
export interface MemberFacts {
  incarnation: number
  left: boolean
}

interface Member extends MemberFacts {
  /** A sign of life this run: a probe it answered, or a record it had just written. Until then it is suspect. */
  confirmed: boolean
  /** This node's own probes (direct and indirect) failed at the member's current incarnation. */
  suspectedHere: boolean
  /** And a second probe failed too: this node tells the others (its liveness record lists the member). */
  confirmedHere: boolean
  /** Monotonic time this node's suspicion began (its suspicion timer counts from here). */
  suspectedAt: number
  /** This node declared it dead at its current incarnation, at this wall time. */
  declaredHere: boolean
  declaredAtWall: number
  /** Wall time of the last sign of life, for display. */
  lastSeenWall: number
  state: Liveness | undefined
}

/**
 * Judged only from what this node observed and when (its own monotonic clock) and from the declarations other
 * members wrote, so that neither clock skew nor a wall-clock jump can kill or revive anyone. A member is
 * - `left` when its own record says it stopped cleanly;
 * - `dead` when some member declared it dead at its current incarnation (a live node refutes that by raising
 *   its incarnation; a restarted one starts above it);
 * - `suspect` when this node's probes, or another member's, failed at its current incarnation, or when nothing
 *   of it was confirmed yet this run (known only from the store);
 * - `alive` otherwise.
 * This node declares a member dead when its own suspicion outlives the suspicion timeout, which is shorter the
 * more other members confirm the suspicion (Lifeguard).
 */
export class SwimView extends EventEmitter<SwimViewEvents> {
  private readonly members = new Map<string, Member>()
  /** Other observers' declarations, by observer. */
  private readonly opinions = new Map<string, LivenessValue>()
  private readonly timings: SwimTimings
  private lastTick: number

  constructor(
    private readonly self: string,
    timings: Partial<SwimTimings> = {},
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {
    super()
    this.timings = {
      suspicionMinMs: timings.suspicionMinMs ?? SUSPICION_MIN_MS,
      suspicionMaxMs: timings.suspicionMaxMs ?? SUSPICION_MAX_MS,
    }
    this.lastTick = monotonicNow()
  }

  /**
   * A member's record: its incarnation and whether it left. `fresh`: it arrived by gossip, moments after it was
   * written (a sign of life); a record from the store or from sync may be old news.
   */
  learn(peer: string, facts: MemberFacts, fresh: boolean, wallNow = Date.now()): void {
    if (peer === this.self) return
    const known = this.members.get(peer)
    const newer = known === undefined || facts.incarnation > known.incarnation
    const member: Member = known ?? {
      incarnation: facts.incarnation,
      left: facts.left,
      confirmed: false,
      suspectedHere: false,
      confirmedHere: false,
      suspectedAt: 0,
      declaredHere: false,
      declaredAtWall: 0,
      lastSeenWall: 0,
      state: undefined,
    }
    member.left = facts.left
    if (newer) {
      // A new incarnation refutes every suspicion and declaration about the old one, this node's included.
      member.incarnation = facts.incarnation
      member.suspectedHere = false
      member.confirmedHere = false
      member.declaredHere = false
    }
    if (fresh) {
      member.confirmed = true
      member.lastSeenWall = wallNow
    }
    this.members.set(peer, member)
    this.judge(peer)
  }

  /** A member's record is gone (collected long after it died): it is no longer a member. */
  forget(peer: string): void {
    this.members.delete(peer)
    this.opinions.delete(peer)
    this.judgeAll()
  }

  /** Another observer's declarations changed (undefined: its record is gone). */
  observe(observer: string, value: LivenessValue | undefined): void {
    if (observer === this.self) return
    const before = this.opinions.get(observer)
    if (value === undefined) this.opinions.delete(observer)
    else this.opinions.set(observer, value)
    // Only the members either version names can change state: judging all of them, each against every
    // opinion, cost each node O(N²) per opinion received, and the whole mesh O(N³) while suspicions spread.
    this.judgeMany([...mentioned(before), ...mentioned(value)])
  }

  /** This node's probe reached the member, which says it is at `incarnation`. */
  probeSucceeded(peer: string, incarnation: number, wallNow = Date.now()): void {
    const member = this.members.get(peer)
    if (member === undefined) return
    if (incarnation > member.incarnation) {
      member.incarnation = incarnation
      member.declaredHere = false
    }
    member.suspectedHere = false
    member.confirmedHere = false
    member.confirmed = true
    member.lastSeenWall = wallNow
    this.judge(peer)
  }

  /**
   * This node's probes of the member failed: it suspects the member (a first failure), and says so to the others
   * (a second one, while the first still stands).
   */
  probeFailed(peer: string): void {
    const member = this.members.get(peer)
    if (member === undefined || member.left) return
    if (member.suspectedHere) {
      member.confirmedHere = true
      return
    }
    member.suspectedHere = true
    member.suspectedAt = this.monotonicNow()
    this.judge(peer)
  }

  /** Runs suspicion timers; call every LIVENESS_TICK_MS. Returns the members this node declared dead now. */
  tick(wallNow = Date.now()): string[] {
    const now = this.monotonicNow()
    const stalled = now - this.lastTick - LIVENESS_TICK_MS
    this.lastTick = now
    // This process was stopped (SIGSTOP, a VM pause, a blocked event loop): nobody could refute meanwhile, so
    // the time is not held against them. Their answers are queued in our sockets and arrive next.
    if (stalled > STALL_GRACE_MS) {
      for (const member of this.members.values()) if (member.suspectedHere) member.suspectedAt += stalled
    }
    const declared: string[] = []
    for (const [peer, member] of this.members) {
      if (!member.suspectedHere || member.declaredHere || member.state !== 'suspect') continue
      if (now - member.suspectedAt < this.suspicionTimeoutMs(peer)) continue
      member.declaredHere = true
      member.declaredAtWall = wallNow
      declared.push(peer)
      this.judge(peer)
    }
    return declared
  }

  /** How long this node's suspicion of `peer` lasts before it declares it dead, given the confirmations so far. */
  suspicionTimeoutMs(peer: string): number {
    const member = this.members.get(peer)
    const { suspicionMinMs: min, suspicionMaxMs: max } = this.timings
    const expected = Math.max(1, Math.min(INDIRECT_CHECKS, this.members.size - 1))
    const confirmations =
      member === undefined ? 0 : Math.min(expected, [...this.suspectedBy(peer, member)].length)
    const timeout = Math.max(min, max - ((max - min) * Math.log(confirmations + 1)) / Math.log(expected + 1))
    return Math.round(timeout)
  }

  /** This node's own declarations, as its liveness record says them. */
  ownOpinion(): LivenessValue {
    const value: LivenessValue = { suspects: {}, dead: {} }
    for (const [peer, member] of this.members) {
      if (member.declaredHere) value.dead[peer] = { i: member.incarnation, at: member.declaredAtWall }
      else if (member.confirmedHere) value.suspects[peer] = { i: member.incarnation }
    }
    return value
  }

  /** The highest incarnation at which anyone suspects or declared this node dead: it must refute above it. */
  doubtAboutSelf(): number | undefined {
    let highest: number | undefined
    for (const opinion of this.opinions.values()) {
      const entry = opinion.suspects[this.self] ?? opinion.dead[this.self]
      if (entry !== undefined) highest = Math.max(highest ?? 0, entry.i)
    }
    return highest
  }

  state(peer: string): Liveness | undefined {
    return this.members.get(peer)?.state
  }

  lastSeen(peer: string): number | undefined {
    const wall = this.members.get(peer)?.lastSeenWall
    return wall === 0 ? undefined : wall
  }

  incarnationOf(peer: string): number | undefined {
    return this.members.get(peer)?.incarnation
  }

  /** Members worth probing: neither left nor dead. */
  probeable(): string[] {
    const peers: string[] = []
    for (const [peer, member] of this.members)
      if (member.state === 'alive' || member.state === 'suspect') peers.push(peer)
    return peers
  }

  /** Members not yet confirmed alive this run (probed first). */
  unconfirmed(): string[] {
    const peers: string[] = []
    for (const [peer, member] of this.members)
      if (!member.confirmed && member.state === 'suspect') peers.push(peer)
    return peers
  }

  inState(state: Liveness): string[] {
    return [...this.members].filter(([, member]) => member.state === state).map(([peer]) => peer)
  }

  counts(): Record<Liveness, number> {
    const counts: Record<Liveness, number> = { alive: 0, suspect: 0, dead: 0, left: 0 }
    for (const member of this.members.values()) if (member.state !== undefined) counts[member.state]++
    return counts
  }

  /** Other observers (alive or suspect here) that suspect `peer` at its current incarnation. */
  private *suspectedBy(peer: string, member: Member): Generator<string> {
    for (const [observer, opinion] of this.opinions) {
      const entry = opinion.suspects[peer]
      if (entry === undefined || entry.i < member.incarnation || observer === peer) continue
      if (counts(this.members.get(observer)?.state)) yield observer
    }
  }

  private declaredDead(peer: string, member: Member): boolean {
    if (member.declaredHere) return true
    for (const [observer, opinion] of this.opinions) {
      if (observer === peer) continue
      const entry = opinion.dead[peer]
      if (entry !== undefined && entry.i >= member.incarnation) return true
    }
    return false
  }

  /** Judges every member until nothing changes: one member's state decides whether its own opinions count. */
  private judgeAll(): void {
    for (let round = 0; round < 4; round++) {
      let changed = false
      for (const peer of this.members.keys()) changed = this.evaluate(peer) || changed
      if (!changed) return
    }
  }

  private judge(peer: string): void {
    this.judgeMany([peer])
  }

  /**
   * Judges `peers`, then whoever they suspect when their own opinions start or stop counting (they became, or
   * stopped being, dead or left). Whether a member is dead or left does not depend on anyone's state, so this
   * reaches what judgeAll would, judging only what can change.
   */
  private judgeMany(peers: Iterable<string>): void {
    const pending = [...new Set(peers)]
    while (pending.length > 0) {
      const peer = pending.pop()!
      const previous = this.members.get(peer)?.state
      if (!this.evaluate(peer)) continue
      if (counts(previous) === counts(this.members.get(peer)?.state)) continue
      const opinion = this.opinions.get(peer)
      if (opinion !== undefined) pending.push(...Object.keys(opinion.suspects))
    }
  }

  /** Sets the member's state from what is known of it; true (and an event) if it changed. */
  private evaluate(peer: string): boolean {
    const member = this.members.get(peer)
    if (member === undefined) return false
    const state: Liveness = member.left
      ? 'left'
      : this.declaredDead(peer, member)
        ? 'dead'
        : member.suspectedHere || !member.confirmed || !this.suspectedBy(peer, member).next().done
          ? 'suspect'
          : 'alive'
    const previous = member.state
    if (state === previous) return false
    member.state = state
    this.emit('peer:state', peer, state, previous)
    return true
  }
}

/** Whether an observer in this state has its opinions counted (the dead and the departed do not). */
function counts(state: Liveness | undefined): boolean {
  return state !== 'dead' && state !== 'left'
}

/** The members an opinion suspects or declares dead. */
function mentioned(opinion: LivenessValue | undefined): string[] {
  return opinion === undefined ? [] : [...Object.keys(opinion.suspects), ...Object.keys(opinion.dead)]
}
