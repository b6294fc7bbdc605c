// The local liveness view: alive → suspect → dead from heartbeat silence on a monotonic clock; left on a clean stop.
import { EventEmitter } from 'node:events'
import { DEAD_AFTER_MS, LIVENESS_TICK_MS, STALL_GRACE_MS, SUSPECT_AFTER_MS } from './constants.js'

export type Liveness = 'alive' | 'suspect' | 'dead' | 'left'

export interface LivenessTimings {
  suspectAfterMs: number
  deadAfterMs: number
}

export interface LivenessEvents {
  'peer:state': [peer: string, state: Liveness, previous: Liveness | undefined]
}

interface PeerLiveness {
  state: Liveness
  /** Monotonic time (performance.now()) of the last heartbeat heard this run, if any. */
  lastHeard: number | undefined
  /** Monotonic time of the last direct probe the peer answered: holds off death, but is not a heartbeat. */
  lastProbeOk: number | undefined
  /** Wall time of that sign of life, or of the newest record we hold, for display. */
  lastSeenWall: number
  /** The peer's declared heartbeat interval over ours: its timeouts stretch by this much. */
  scale: number
}

/**
 * Liveness is judged only from what this node observed and when, on its own monotonic clock, so that
 * neither clock skew between machines nor a wall-clock jump can kill or revive anyone.
 */
export class LivenessView extends EventEmitter<LivenessEvents> {
  private readonly peers = new Map<string, PeerLiveness>()
  private readonly timings: LivenessTimings
  private startedAt: number
  private lastTick: number

  constructor(
    timings: Partial<LivenessTimings> = {},
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {
    super()
    this.timings = {
      suspectAfterMs: timings.suspectAfterMs ?? SUSPECT_AFTER_MS,
      deadAfterMs: timings.deadAfterMs ?? DEAD_AFTER_MS,
    }
    this.startedAt = monotonicNow()
    this.lastTick = this.startedAt
  }

  /**
   * A peer known only from stored state: suspect until heard from (we cannot know yet), and dead if
   * nothing is heard for the dead timeout after we started listening.
   */
  remember(peer: string, lastSeenWall: number, left: boolean): void {
    if (this.peers.has(peer)) return
    this.set(peer, {
      state: left ? 'left' : 'suspect',
      lastHeard: undefined,
      lastProbeOk: undefined,
      lastSeenWall,
      scale: 1,
    })
  }

  /**
   * A fresh heartbeat (or a clean-stop notice) from the peer. `scale` stretches its timeouts when it
   * declares a longer heartbeat interval than ours (large clusters heartbeat less often).
   */
  heard(peer: string, left: boolean, scale = 1, wallNow = Date.now()): void {
    const lastProbeOk = this.peers.get(peer)?.lastProbeOk
    this.set(peer, {
      state: left ? 'left' : 'alive',
      lastHeard: this.monotonicNow(),
      lastProbeOk,
      lastSeenWall: wallNow,
      scale: Math.max(1, scale),
    })
  }

  /**
   * The peer answered a direct probe (SWIM's ping). That proves the process runs, so it is not declared
   * dead, but it stays suspect until a heartbeat arrives: a peer whose records we refuse (a clock far
   * ahead) or whose gossip is stuck is not healthy either.
   */
  probeSucceeded(peer: string): void {
    const entry = this.peers.get(peer)
    if (entry === undefined || entry.state === 'left') return
    this.set(peer, {
      ...entry,
      lastProbeOk: this.monotonicNow(),
      state: entry.state === 'dead' ? 'suspect' : entry.state,
    })
  }

  /** Evidence against a peer (its connection closed and a direct probe failed): suspect it at once. */
  suspect(peer: string): void {
    const entry = this.peers.get(peer)
    if (entry === undefined || entry.state !== 'alive') return
    this.set(peer, { ...entry, state: 'suspect' })
  }

  /** Re-evaluates every peer; call every LIVENESS_TICK_MS. */
  tick(): void {
    const now = this.monotonicNow()
    const stalled = now - this.lastTick - LIVENESS_TICK_MS
    this.lastTick = now
    // We were stopped (SIGSTOP, a VM pause, a blocked event loop): nobody could be heard meanwhile, so the
    // silence is ours, not theirs. Their heartbeats are queued in our sockets and arrive next.
    if (stalled > STALL_GRACE_MS) this.forgive(stalled)
    for (const [peer, entry] of this.peers) {
      if (entry.state === 'left' || entry.state === 'dead') continue
      const silence = now - (entry.lastHeard ?? this.startedAt)
      const lastSign = Math.max(
        entry.lastHeard ?? this.startedAt,
        entry.lastProbeOk ?? Number.NEGATIVE_INFINITY,
      )
      if (now - lastSign >= this.timings.deadAfterMs * entry.scale)
        this.set(peer, { ...entry, state: 'dead' })
      else if (silence >= this.timings.suspectAfterMs * entry.scale && entry.state === 'alive') {
        this.set(peer, { ...entry, state: 'suspect' })
      }
    }
  }

  private forgive(stalledMs: number): void {
    this.startedAt += stalledMs
    for (const entry of this.peers.values()) {
      if (entry.lastHeard !== undefined) entry.lastHeard += stalledMs
      if (entry.lastProbeOk !== undefined) entry.lastProbeOk += stalledMs
    }
  }

  state(peer: string): Liveness | undefined {
    return this.peers.get(peer)?.state
  }

  lastSeen(peer: string): number | undefined {
    return this.peers.get(peer)?.lastSeenWall
  }

  /** Peers currently in a given state. */
  inState(state: Liveness): string[] {
    return [...this.peers].filter(([, entry]) => entry.state === state).map(([peer]) => peer)
  }

  counts(): Record<Liveness, number> {
    const counts: Record<Liveness, number> = { alive: 0, suspect: 0, dead: 0, left: 0 }
    for (const entry of this.peers.values()) counts[entry.state]++
    return counts
  }

  private set(peer: string, entry: PeerLiveness): void {
    const previous = this.peers.get(peer)?.state
    this.peers.set(peer, entry)
    if (previous !== entry.state) this.emit('peer:state', peer, entry.state, previous)
  }
}
