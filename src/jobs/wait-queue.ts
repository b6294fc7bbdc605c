// Jobs waiting for placement, kept in placement order (priority, then age), with their distinct shapes counted.
import type { JobSpec } from './spec.js'

interface Entry {
  spec: JobSpec
  /** Jobs of one shape fit the same nodes: once one does not fit in a pass, the rest are skipped. */
  shape: string
  /** In `order` (not just added). */
  ordered: boolean
}

/** Up to this many new jobs are inserted into the order one by one; more are sorted in with everything. */
const INSERT_LIMIT = 64

/**
 * A pass looks at the queue from the front and stops as soon as no shape fits, so a pass that places a few
 * jobs of 10,000 must not cost a sort or a copy of all 10,000: removals are skipped lazily (the array is
 * compacted once half of it is stale) and a few additions are inserted in place.
 */
export class WaitQueue {
  private readonly entries = new Map<string, Entry>()
  private readonly shapes = new Map<string, number>()
  private order: Entry[] = []
  /** Entries before `head` are all deleted: placing takes from the front, and no pass walks them again. */
  private head = 0
  private added: Entry[] = []
  /** Deleted entries still in `order` after `head`. */
  private stale = 0

  get size(): number {
    return this.entries.size
  }

  /** Distinct shapes among the waiting jobs. */
  get shapeCount(): number {
    return this.shapes.size
  }

  add(spec: JobSpec): void {
    if (this.entries.has(spec.id)) return
    const entry = { spec, shape: shapeOf(spec), ordered: false }
    this.entries.set(spec.id, entry)
    this.shapes.set(entry.shape, (this.shapes.get(entry.shape) ?? 0) + 1)
    this.added.push(entry)
  }

  delete(id: string): boolean {
    const entry = this.entries.get(id)
    if (entry === undefined) return false
    this.entries.delete(id)
    const left = this.shapes.get(entry.shape)! - 1
    if (left === 0) this.shapes.delete(entry.shape)
    else this.shapes.set(entry.shape, left)
    if (entry.ordered) this.stale++
    return true
  }

  clear(): void {
    this.entries.clear()
    this.shapes.clear()
    this.order = []
    this.head = 0
    this.added = []
    this.stale = 0
  }

  /** The waiting jobs in placement order; jobs deleted while iterating are skipped. */
  *inOrder(): Generator<Entry> {
    this.settle()
    for (let i = this.head; i < this.order.length; i++) {
      const entry = this.order[i]!
      if (this.isLive(entry)) yield entry
    }
  }

  private isLive(entry: Entry): boolean {
    return this.entries.get(entry.spec.id) === entry
  }

  private settle(): void {
    while (this.head < this.order.length && !this.isLive(this.order[this.head]!)) {
      this.head++
      this.stale--
    }
    const length = this.order.length - this.head
    if (this.stale * 2 > length || this.head * 2 > this.order.length || this.added.length > INSERT_LIMIT) {
      this.order = [...this.entries.values()].sort(placementOrder)
      for (const entry of this.order) entry.ordered = true
      this.head = 0
      this.added = []
      this.stale = 0
      return
    }
    for (const entry of this.added) {
      if (!this.isLive(entry)) continue
      this.order.splice(insertionPoint(this.order, this.head, entry), 0, entry)
      entry.ordered = true
    }
    this.added = []
  }
}

function insertionPoint(order: readonly Entry[], from: number, entry: Entry): number {
  let low = from
  let high = order.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (placementOrder(order[middle]!, entry) <= 0) low = middle + 1
    else high = middle
  }
  return low
}

function shapeOf(spec: JobSpec): string {
  const r = spec.resources
  return `${spec.driver}|${r.cpuMillis}|${r.memory}|${r.disk}|${r.gpu}|${JSON.stringify(spec.constraints)}`
}

function placementOrder({ spec: a }: Entry, { spec: b }: Entry): number {
  return b.priority - a.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}
