// The probe loop: one member per period, directly, then indirectly through a few others; Lifeguard's local health.
import type { Logger } from 'pino'
import {
  INDIRECT_CHECKS,
  MAX_LOCAL_HEALTH,
  PROBE_INTERVAL_MS,
  PROBE_TIMEOUT_MS,
  STALL_GRACE_MS,
  SUSPECT_REPROBE_MS,
} from './constants.js'
import type { ProbeResult } from './metrics.js'
import type { ProbeAck, ProbeChannels } from './probe-protocol.js'
import type { SwimView } from './swim-view.js'

export interface ProberComponents {
  channels: ProbeChannels
  /** This node's wall clock (probe answers carry the peer's, to compare). */
  wallNow(): number
  view: SwimView
  log: Logger
  /** One probe of ours ended (for the metric). */
  probed(result: ProbeResult): void
  /** A direct probe (ours, or one made for another member) was answered: the member is alive at that incarnation. */
  answered(peer: string, ack: ProbeAck): void
}

export interface ProberTimings {
  intervalMs: number
  timeoutMs: number
}

/** Probes out at once at most (a start or a mass failure asks for many; the round robin picks up the rest). */
const MAX_PROBES_IN_FLIGHT = 16

export class Prober {
  private readonly timings: ProberTimings
  private readonly inFlight = new Set<string>()
  /** Suspects waiting for their next direct probe, each with its timer. */
  private readonly rechecks = new Map<string, NodeJS.Timeout>()
  /** This round's probing order: a shuffle of the members, taken from the front (memberlist's round robin). */
  private round: string[] = []
  private timer: NodeJS.Timeout | undefined
  private running = false
  /** Lifeguard's local health multiplier (0 is healthy): probes this node fails that others succeed raise it. */
  private health = 0

  constructor(
    private readonly c: ProberComponents,
    timings: Partial<ProberTimings> = {},
  ) {
    this.timings = {
      intervalMs: timings.intervalMs ?? PROBE_INTERVAL_MS,
      timeoutMs: timings.timeoutMs ?? PROBE_TIMEOUT_MS,
    }
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.schedule()
  }

  stop(): void {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    for (const timer of this.rechecks.values()) clearTimeout(timer)
    this.rechecks.clear()
    this.c.channels.closeAll()
  }

  /** Lifeguard's local health multiplier: this node's timeouts stretch by 1 + this. */
  localHealth(): number {
    return this.health
  }

  /** Probes a member now (its connection closed, or it is suspect): unless a probe of it is already out. */
  probeSoon(peer: string): void {
    if (!this.running || this.inFlight.has(peer) || this.inFlight.size >= MAX_PROBES_IN_FLIGHT) return
    void this.probe(peer)
  }

  /** Probes `target` directly for another member that asked (an indirect probe); true if it answered. */
  async probeFor(target: string, timeoutMs: number): Promise<boolean> {
    try {
      await this.c.channels.connect(target)
      const ack = await this.c.channels.ping(target, timeoutMs, this.c.wallNow)
      this.c.answered(target, ack)
      return true
    } catch (err) {
      this.c.log.debug({ target, err: (err as Error).message }, 'indirect probe for another member failed')
      return false
    }
  }

  private schedule(): void {
    // Lifeguard: a node that may be the slow one also probes less often.
    const delay = this.timings.intervalMs * (1 + this.health) * (0.9 + Math.random() * 0.2)
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (!this.running) return
      const target = this.nextTarget()
      if (target !== undefined) void this.probe(target)
      this.schedule()
    }, delay)
    this.timer.unref()
  }

  /** Members not yet confirmed this run first (they are suspect until then), then the round robin. */
  private nextTarget(): string | undefined {
    const unconfirmed = this.c.view.unconfirmed().filter((peer) => !this.inFlight.has(peer))
    if (unconfirmed.length > 0) return unconfirmed[0]
    const probeable = new Set(this.c.view.probeable())
    for (let tries = 0; tries < 2; tries++) {
      while (this.round.length > 0) {
        const peer = this.round.shift()!
        if (probeable.has(peer) && !this.inFlight.has(peer)) return peer
      }
      this.round = shuffle([...probeable])
    }
    return undefined
  }

  /**
   * One probe: direct, then (`indirectToo`) through other members. A suspect is probed again, directly only,
   * every SUSPECT_REPROBE_MS until it answers (clearing this node's doubt) or is declared dead.
   */
  private async probe(peer: string, indirectToo = true): Promise<void> {
    this.inFlight.add(peer)
    try {
      const outcome = await this.directThenIndirect(peer, indirectToo)
      this.c.probed(outcome)
      if (outcome === 'unanswered') this.c.view.probeFailed(peer)
    } finally {
      this.inFlight.delete(peer)
      this.recheckLater(peer)
    }
  }

  private recheckLater(peer: string): void {
    if (!this.running || this.rechecks.has(peer) || this.c.view.state(peer) !== 'suspect') return
    const timer = setTimeout(() => {
      this.rechecks.delete(peer)
      if (!this.running || this.inFlight.has(peer) || this.c.view.state(peer) !== 'suspect') return
      void this.probe(peer, false)
    }, SUSPECT_REPROBE_MS)
    timer.unref()
    this.rechecks.set(peer, timer)
  }

  private async directThenIndirect(peer: string, indirectToo: boolean): Promise<ProbeResult> {
    const timeoutMs = this.timings.timeoutMs * (1 + this.health)
    try {
      await this.c.channels.connect(peer)
      const started = performance.now()
      try {
        const ack = await this.c.channels.ping(peer, timeoutMs, this.c.wallNow)
        this.health = Math.max(0, this.health - 1)
        this.c.answered(peer, ack)
        return 'answered'
      } catch (err) {
        // The timer that ended the probe ran late: this process was stalled, and the answer may be waiting unread.
        if (performance.now() - started > timeoutMs + STALL_GRACE_MS) return 'inconclusive'
        // A probe that timed out (not one refused at once: that peer is gone) may be this node's slowness.
        if (isTimeout(err)) this.raiseHealth()
        throw err
      }
    } catch (err) {
      this.c.log.debug({ peer, err: (err as Error).message }, 'direct probe failed')
    }
    if (!indirectToo) return 'unanswered'
    const helpers = shuffle(this.c.view.probeable().filter((candidate) => candidate !== peer)).slice(
      0,
      INDIRECT_CHECKS,
    )
    if (helpers.length === 0) return 'unanswered'
    const indirectStarted = performance.now()
    const answers = await Promise.all(
      helpers.map((helper) =>
        this.c.channels.pingRequest(helper, peer, timeoutMs).catch((err: Error) => {
          this.c.log.debug({ peer, helper, err: err.message }, 'indirect probe failed')
          return false
        }),
      ),
    )
    if (performance.now() - indirectStarted > timeoutMs * 2 + STALL_GRACE_MS) return 'inconclusive'
    if (answers.some(Boolean)) {
      this.c.view.probeSucceeded(peer, this.c.view.incarnationOf(peer) ?? 0)
      return 'answered-indirectly'
    }
    return 'unanswered'
  }

  /** Lifeguard: this node had to refute a suspicion about itself, or a probe of its timed out: it may be the slow one. */
  raiseHealth(): void {
    this.health = Math.min(MAX_LOCAL_HEALTH, this.health + 1)
  }
}

/** An abort by a timeout signal (the probe went unanswered), as opposed to a refusal or a reset. */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j]!, items[i]!]
  }
  return items
}
