// Asking in-process nodes and daemon processes who coordinates, and waiting until they agree.
import { createClient } from '../../cli/client.js'
import type { CoordinatorView } from '../../src/coordinator/index.js'
import type { TestNode } from './in-process.js'
import type { DaemonProcess } from './processes.js'
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

/** The coordinator as a daemon process sees it, asked over its socket. */
export function coordinatorOf(proc: DaemonProcess): Promise<CoordinatorView> {
  return createClient(proc.dataDir).get<CoordinatorView>('/v1/coordinator')
}

/** The view every daemon shares (one live holder, one term of at least `minTerm`), or undefined if they differ. */
export async function processAgreement(
  procs: readonly DaemonProcess[],
  minTerm = 1,
): Promise<CoordinatorView | undefined> {
  const views = await Promise.all(procs.map((proc) => coordinatorOf(proc).catch(() => undefined)))
  const first = views[0]
  if (first === undefined || first.status !== 'held' || first.term < minTerm) return undefined
  const same = views.every((v) => v?.status === 'held' && v.holder === first.holder && v.term === first.term)
  return same ? first : undefined
}

/** Waits until every daemon process names the same live holder under one term of at least `minTerm`. */
export function agreedProcesses(
  procs: readonly DaemonProcess[],
  what: string,
  { minTerm = 1, timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<CoordinatorView> {
  return waitFor(what, () => processAgreement(procs, minTerm), { timeoutMs, intervalMs })
}
