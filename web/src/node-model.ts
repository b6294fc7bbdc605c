// Node views kept current from `record` events of kind `node` (each node's own record) and re-read live usage.
import type { NodeValue, NodeView } from './types.js'

/**
 * The view after a node wrote its record: what the record says replaces what the view said; liveness stays as
 * `node` events reported it, except that a record saying `left` is final. A node not seen before has no view
 * to update (its liveness and connection are unknown here): the caller asks the API for it.
 */
export function applyNodeRecord(
  existing: NodeView | undefined,
  value: NodeValue,
  writtenAt: number,
): NodeView | undefined {
  if (existing === undefined) return undefined
  // Load and free memory are not news to a record: a live reading newer than the record's stays.
  const recordNewer = writtenAt >= (Date.parse(existing.usageAt) || 0)
  return {
    ...existing,
    name: value.name,
    addresses: value.addresses,
    labels: value.labels,
    resources: recordNewer ? value.resources : { ...value.resources, ...usageFigures(existing.resources) },
    usage: recordNewer ? 'record' : existing.usage,
    usageAt: recordNewer ? new Date(writtenAt).toISOString() : existing.usageAt,
    drivers: value.drivers,
    hostNetwork: value.hostNetwork ?? false,
    drained: value.drained === true,
    eligible: value.coordinator ?? true,
    version: value.version,
    startedAt: new Date(value.startedAt).toISOString(),
    lastSeen: new Date(Math.max(writtenAt, Date.parse(existing.lastSeen) || 0)).toISOString(),
    state: value.state === 'left' ? 'left' : existing.state,
  }
}

/** The view with the load, free memory and free disk of a newer read of the node (`GET /v1/nodes`). */
export function applyUsage(existing: NodeView, read: NodeView): NodeView {
  if ((Date.parse(read.usageAt) || 0) < (Date.parse(existing.usageAt) || 0)) return existing
  return {
    ...existing,
    resources: { ...existing.resources, ...usageFigures(read.resources) },
    usage: read.usage,
    usageAt: read.usageAt,
  }
}

function usageFigures(
  r: NodeView['resources'],
): Pick<NodeView['resources'], 'load' | 'memoryFree' | 'diskFree'> {
  return { load: r.load, memoryFree: r.memoryFree, diskFree: r.diskFree }
}

/** Fractions of a node's resources in use, for its bars. */
export function usage(node: NodeView): { cpu: number; memory: number; disk: number } {
  const { resources: r } = node
  const share = (used: number, total: number): number =>
    total > 0 ? Math.min(1, Math.max(0, used / total)) : 0
  return {
    cpu: share(r.load[0], r.cpus),
    memory: share(r.memoryTotal - r.memoryFree, r.memoryTotal),
    disk: share(r.diskTotal - r.diskFree, r.diskTotal),
  }
}

/** GPUs a node reports (nodes from before the job service report none). */
export function gpusOf(node: NodeView): number {
  return node.resources.gpus ?? 0
}

/** The models of a node's GPUs, each once (`A100, T4`), or '' where the node does not say. */
export function gpuModelsOf(node: NodeView): string {
  return [...new Set(node.resources.gpuModels ?? [])].join(', ')
}

const STATE_ORDER = { alive: 0, suspect: 1, dead: 2, left: 3 } as const

/** Alive first, then suspect, dead and left; by name within each. */
export function byStateThenName(a: NodeView, b: NodeView): number {
  return (
    STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.name.localeCompare(b.name) || a.id.localeCompare(b.id)
  )
}
