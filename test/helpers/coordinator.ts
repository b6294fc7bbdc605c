// Asking in-process nodes who coordinates, and waiting until they agree.
import type { CoordinatorView } from '../../src/coordinator/index.js'
import type { TestNode } from './in-process.js'
import { waitFor } from './wait.js'

export interface Agreement {
  holder: string
  term: number
  /** The node that holds the role. */
  node: TestNode
}

/** Waits until every given node names the same live holder under the same term, and that holder acts. */
export function agreedCoordinator(
  nodes: readonly TestNode[],
  what = 'all nodes to agree on one coordinator',
  timeoutMs = 20_000,
): Promise<Agreement> {
  return waitFor(
    what,
    () => {
      const views: CoordinatorView[] = nodes.map((node) => node.daemon.coordinator.view())
      const first = views[0]!
      if (first.status !== 'held' || first.holder === null) return undefined
      if (
        !views.every(
          (view) => view.status === 'held' && view.holder === first.holder && view.term === first.term,
        )
      )
        return undefined
      const acting = nodes.filter((node) => node.daemon.coordinator.isHolder())
      if (acting.length !== 1 || acting[0]!.daemon.peerId !== first.holder) return undefined
      return { holder: first.holder, term: first.term, node: acting[0]! }
    },
    { timeoutMs },
  )
}

/** How many nodes act as coordinator right now. */
export function actingCount(nodes: readonly TestNode[]): number {
  return nodes.filter((node) => node.daemon.coordinator.isHolder()).length
}
