// Partitions between groups of in-process nodes: every connection cut both ways, new ones refused, then healed.
import type { TestNode } from './in-process.js'

/** Cuts every connection between the two groups, both ways, and refuses new ones. */
export async function partition(a: readonly TestNode[], b: readonly TestNode[]): Promise<void> {
  const ids = (group: readonly TestNode[]) => group.map((node) => node.daemon.peerId)
  await Promise.all([
    ...a.map((node) => node.daemon.mesh.blockPeers(ids(b))),
    ...b.map((node) => node.daemon.mesh.blockPeers(ids(a))),
  ])
}

export async function heal(nodes: readonly TestNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.daemon.mesh.blockPeers([])))
}
