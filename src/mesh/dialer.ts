// Keeps the node connected: dials bootstrap addresses, discovered and known peers, with backoff, up to a target.
import type { Logger } from 'pino'
import {
  DIAL_BACKOFF_MAX_MS,
  DIAL_BACKOFF_MIN_MS,
  DIAL_MAINTAIN_INTERVAL_MS,
  MAX_PARALLEL_DIALS,
  TARGET_CONNECTIONS,
} from './constants.js'

/** What the dialer needs from the node: the ability to dial, and a view of current connections. */
export interface DialTarget {
  /** A bootstrap multiaddr (may lack /p2p/) or a peer id whose addresses the peer store holds. */
  dial(target: { addr: string } | { peer: string }): Promise<string>
  isConnected(peer: string): boolean
  connectionCount(): number
}

interface Backoff {
  failures: number
  nextAttemptAt: number
}

export interface PeerDialerInit {
  bootstrap: readonly string[]
  selfPeerId: string
  /** @default TARGET_CONNECTIONS */
  targetConnections?: number
  /** @default DIAL_MAINTAIN_INTERVAL_MS */
  maintainIntervalMs?: number
}

export class PeerDialer {
  private readonly candidates = new Set<string>()
  private readonly backoff = new Map<string, Backoff>()
  /** Which peer each bootstrap address turned out to be, once dialled. */
  private readonly bootstrapPeers = new Map<string, string>()
  private readonly inFlight = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private readonly target: number
  private readonly intervalMs: number

  constructor(
    private readonly node: DialTarget,
    private readonly init: PeerDialerInit,
    private readonly log: Logger,
  ) {
    this.target = init.targetConnections ?? TARGET_CONNECTIONS
    this.intervalMs = init.maintainIntervalMs ?? DIAL_MAINTAIN_INTERVAL_MS
  }

  start(): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => this.maintain(), this.intervalMs)
    this.timer.unref()
    this.maintain()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** A peer learned from the replicated state (or found by discovery: see `discovered`). */
  addCandidate(peer: string): void {
    if (peer === this.init.selfPeerId || this.candidates.has(peer)) return
    this.candidates.add(peer)
    if (this.timer !== undefined && this.node.connectionCount() < this.target) this.dialPeer(peer)
  }

  /**
   * A peer just answered discovery (mDNS), so it is reachable now: forget its failures and dial it if we
   * are not connected. This is what reconnects the two sides of a LAN within one mDNS interval after a
   * partition heals, instead of waiting out the redial backoff.
   */
  discovered(peer: string): void {
    if (peer === this.init.selfPeerId) return
    this.candidates.add(peer)
    if (this.node.isConnected(peer)) return
    this.backoff.delete(peer)
    if (this.timer !== undefined && this.node.connectionCount() < this.target) this.dialPeer(peer)
  }

  removeCandidate(peer: string): void {
    this.candidates.delete(peer)
    this.backoff.delete(peer)
  }

  /** The peer reached us (or we it): whatever failed before, it is reachable now. */
  markReachable(peer: string): void {
    this.backoff.delete(peer)
  }

  /** Forgets every failure and dials at once (a partition healed). */
  resetBackoff(): void {
    this.backoff.clear()
    if (this.timer !== undefined) setImmediate(() => this.maintain())
  }

  /** Called when a peer disconnects: try to stay above target without waiting for the next tick. */
  onDisconnect(): void {
    if (this.timer !== undefined) setImmediate(() => this.maintain())
  }

  private maintain(): void {
    const connected = this.node.connectionCount()
    // With no connections at all, every bootstrap address is worth a try, whatever the target says.
    for (const addr of this.init.bootstrap) {
      const peer = this.bootstrapPeers.get(addr)
      if (peer !== undefined && this.node.isConnected(peer)) continue
      if (connected === 0 || connected < this.target) this.dialAddr(addr)
    }
    let budget = Math.min(this.target - connected, MAX_PARALLEL_DIALS) - this.inFlight.size
    if (budget <= 0) return
    const now = Date.now()
    const ready = [...this.candidates].filter(
      (peer) => !this.node.isConnected(peer) && !this.inFlight.has(peer) && this.ready(peer, now),
    )
    shuffle(ready)
    for (const peer of ready) {
      if (budget-- <= 0) break
      this.dialPeer(peer)
    }
  }

  private ready(key: string, now: number): boolean {
    const state = this.backoff.get(key)
    return state === undefined || state.nextAttemptAt <= now
  }

  private dialAddr(addr: string): void {
    if (this.inFlight.has(addr) || !this.ready(addr, Date.now())) return
    this.attempt(addr, { addr }, (peer) => this.bootstrapPeers.set(addr, peer))
  }

  private dialPeer(peer: string): void {
    if (this.inFlight.has(peer) || this.node.isConnected(peer) || !this.ready(peer, Date.now())) return
    this.attempt(peer, { peer }, () => undefined)
  }

  private attempt(
    key: string,
    target: { addr: string } | { peer: string },
    onSuccess: (peer: string) => void,
  ): void {
    this.inFlight.add(key)
    this.node.dial(target).then(
      (peer) => {
        this.inFlight.delete(key)
        this.backoff.delete(key)
        onSuccess(peer)
      },
      (err: Error) => {
        this.inFlight.delete(key)
        const failures = (this.backoff.get(key)?.failures ?? 0) + 1
        // ±20 % jitter, so that the nodes on each side of a healed partition do not redial in lockstep.
        const delay =
          Math.min(DIAL_BACKOFF_MIN_MS * 2 ** (failures - 1), DIAL_BACKOFF_MAX_MS) *
          (0.8 + Math.random() * 0.4)
        this.backoff.set(key, { failures, nextAttemptAt: Date.now() + delay })
        this.log.debug({ target: key, failures, retryInMs: delay, err: err.message }, 'dial failed')
      },
    )
  }
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
}
