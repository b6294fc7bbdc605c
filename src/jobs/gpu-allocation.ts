// Which of this node's GPUs (device indices) each running attempt holds: no two attempts share one.

export class GpuAllocation {
  /** Device indices held, by attempt key. */
  private readonly held = new Map<string, number[]>()

  /** `count()` is the node's GPUs now (its own record), read at every allocation. */
  constructor(private readonly count: () => number) {}

  /**
   * Gives `key` the `need` free devices with the lowest indices. Admission lets an attempt start only when its
   * GPUs fit beside what runs, except when nothing runs here (a node that shrank still runs what it was given):
   * then it gets what there is, possibly fewer. Taking again for a key gives back what it holds.
   */
  take(key: string, need: number): number[] {
    const holding = this.held.get(key)
    if (holding !== undefined) return holding
    const busy = new Set([...this.held.values()].flat())
    const free: number[] = []
    for (let index = 0; index < this.count() && free.length < need; index++) {
      if (!busy.has(index)) free.push(index)
    }
    this.held.set(key, free)
    return free
  }

  /** The attempt ended: its devices are free again. */
  release(key: string): void {
    this.held.delete(key)
  }

  /** GPUs this node has now (the drivers hide them all from work that asked for none). */
  total(): number {
    return this.count()
  }
}
