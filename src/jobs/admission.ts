// What a node runs at once: never more than the resources it declares, whoever assigned the work.
import { type Amounts, addAmounts, fits, subtractAmounts, ZERO } from './placement.js'

/**
 * The coordinator may give a node more than it can run at once: short work queued ahead on purpose, or
 * placements that overlap (two coordinators around a handover, each placing on what it knew; a capacity
 * that shrank, such as free disk). The node is the last word: an attempt starts when its resources fit
 * beside what runs, else it waits here, first come first started. Nothing waits while nothing runs, so a job that no longer fits (the
 * node shrank) still runs rather than waiting forever.
 */
export class Admission<T> {
  private inUse: Amounts = ZERO
  private running = 0
  private readonly queue = new Map<string, { need: Amounts; item: T }>()

  /** `capacity` is read at every decision; undefined (not known yet) admits everything. */
  constructor(private readonly capacity: () => Amounts | undefined) {}

  /** True if `item` may start now (it counts as running until released); else it waits under `key`. */
  admit(key: string, need: Amounts, item: T): boolean {
    if (this.queue.size > 0 || !this.fitsNow(need)) {
      this.queue.set(key, { need, item })
      return false
    }
    this.take(need)
    return true
  }

  /** An admitted item ended: its resources are free again. Returns the waiting items that start now. */
  release(need: Amounts): T[] {
    this.inUse = subtractAmounts(this.inUse, need)
    this.running--
    const starting: T[] = []
    for (const [key, waiting] of this.queue) {
      if (!this.fitsNow(waiting.need)) break
      this.queue.delete(key)
      this.take(waiting.need)
      starting.push(waiting.item)
    }
    return starting
  }

  /** Drops a waiting item (moved elsewhere or cancelled before it started); true if it was waiting. */
  withdraw(key: string): boolean {
    return this.queue.delete(key)
  }

  /** The item waiting under `key`, if any. */
  get(key: string): T | undefined {
    return this.queue.get(key)?.item
  }

  /** Waiting items, oldest first. */
  waiting(): T[] {
    return [...this.queue.values()].map((waiting) => waiting.item)
  }

  /** Forgets everything waiting (the node is stopping: the coordinator moves that work). */
  clear(): void {
    this.queue.clear()
  }

  private fitsNow(need: Amounts): boolean {
    const capacity = this.capacity()
    return this.running === 0 || capacity === undefined || fits(need, this.inUse, capacity)
  }

  private take(need: Amounts): void {
    this.inUse = addAmounts(this.inUse, need)
    this.running++
  }
}
