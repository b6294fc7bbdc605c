// What the coordinator has placed and not yet seen end: per job its node and needs, per node the sum.
import { type Amounts, addAmounts, subtractAmounts, ZERO } from '../placement.js'

export interface Active {
  node: string
  need: Amounts
  /** performance.now() when this coordinator first saw the assignment without a run report. */
  since: number
}

export class Placements {
  /** Jobs placed and not yet ended, by id. */
  readonly active = new Map<string, Active>()
  /** What the active jobs need, by node: placing never takes a node past its capacity with it. */
  readonly used = new Map<string, Amounts>()

  activate(id: string, node: string, need: Amounts, since = performance.now()): void {
    this.forget(id)
    this.active.set(id, { node, need, since })
    this.used.set(node, addAmounts(this.used.get(node) ?? ZERO, need))
  }

  /** Drops the job's placement, returning it. */
  forget(id: string): Active | undefined {
    const active = this.active.get(id)
    if (active === undefined) return undefined
    this.used.set(active.node, subtractAmounts(this.used.get(active.node)!, active.need))
    this.active.delete(id)
    return active
  }

  /** Active jobs on `node`. */
  *on(node: string): IterableIterator<string> {
    for (const [id, active] of this.active) if (active.node === node) yield id
  }

  /** What each node runs, by the needs of the active jobs `isRunning` picks. */
  use(isRunning: (id: string) => boolean): Map<string, Amounts> {
    const use = new Map<string, Amounts>()
    for (const [id, active] of this.active) {
      if (!isRunning(id)) continue
      use.set(active.node, addAmounts(use.get(active.node) ?? ZERO, active.need))
    }
    return use
  }

  clear(): void {
    this.active.clear()
    this.used.clear()
  }
}
