// Hybrid logical clock (Kulkarni et al. 2014): stamps that follow wall time but never run backwards or tie.
import { MAX_HLC_COUNTER } from './constants.js'

/** A point in hybrid logical time. Ordered by wall, then counter, then node (the writer's peer id). */
export interface Stamp {
  /** Milliseconds since the epoch, never less than any stamp this node has seen. */
  wall: number
  /** Logical counter that orders events within the same millisecond. */
  counter: number
  /** The writer's peer id: makes stamps from different writers distinct. */
  node: string
}

/** Source of wall-clock time; injected so tests can skew or freeze it. */
export interface WallClock {
  now(): number
}

export const systemClock: WallClock = { now: () => Date.now() }

export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1
  if (a.node !== b.node) return a.node < b.node ? -1 : 1
  return 0
}

export class HybridLogicalClock {
  private wall = 0
  private counter = 0

  constructor(
    readonly node: string,
    private readonly clock: WallClock = systemClock,
  ) {}

  /** A fresh stamp for a local event, greater than every stamp issued or observed before. */
  now(): Stamp {
    const physical = this.clock.now()
    if (physical > this.wall) {
      this.wall = physical
      this.counter = 0
    } else {
      this.advanceCounter(this.counter + 1)
    }
    return { wall: this.wall, counter: this.counter, node: this.node }
  }

  /**
   * Merges a remote stamp so that later local stamps order after it.
   * Callers must reject stamps beyond the skew bound first, or a peer with a fast clock drags ours along.
   */
  observe(remote: Stamp): void {
    const physical = this.clock.now()
    const wall = Math.max(this.wall, remote.wall, physical)
    let counter = 0
    if (wall === this.wall && wall === remote.wall) counter = Math.max(this.counter, remote.counter) + 1
    else if (wall === this.wall) counter = this.counter + 1
    else if (wall === remote.wall) counter = remote.counter + 1
    this.wall = wall
    this.advanceCounter(counter)
  }

  /**
   * Sets the counter, or moves the wall on by a millisecond once it would pass MAX_HLC_COUNTER: still after
   * every stamp before, and a counter peers accept. A stamp that arrived at the bound costs one millisecond.
   */
  private advanceCounter(counter: number): void {
    if (counter <= MAX_HLC_COUNTER) {
      this.counter = counter
      return
    }
    this.wall++
    this.counter = 0
  }

  /** The physical clock reading, for skew checks. */
  physicalNow(): number {
    return this.clock.now()
  }
}
