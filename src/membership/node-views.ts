// Node records as the API shows them: liveness, connection and role as this node sees them, and settings pending.
import { NodeAmbiguousError, NodeNotFoundError } from '../errors.js'
import type { StateRecord } from '../state/index.js'
import type { NodeValue } from './node-record.js'
import type { NodeSettingsValue } from './node-settings.js'
import type { Liveness } from './swim-view.js'
import type { NodeView } from './types.js'

/** What this node knows beyond the record itself. */
export interface ViewContext {
  self: string
  liveness(peer: string): Liveness | undefined
  /** Wall time of the last sign of life from the peer. */
  lastSeen(peer: string): number | undefined
  isConnected(peer: string): boolean
  coordinator(): string | undefined
  /** Settings asked of the peer (`nodeset/<peer>`). */
  settings(peer: string): NodeSettingsValue | undefined
}

export function toNodeView(record: StateRecord<NodeValue>, ctx: ViewContext): NodeView {
  const value = record.value!
  const peer = value.peerId
  const self = peer === ctx.self
  const state: Liveness = self ? 'alive' : (ctx.liveness(peer) ?? 'suspect')
  const lastSeen = self ? Date.now() : (ctx.lastSeen(peer) ?? record.stamp.wall)
  return {
    id: peer,
    name: value.name,
    state,
    self,
    connected: !self && ctx.isConnected(peer),
    addresses: value.addresses,
    lastSeen: new Date(lastSeen).toISOString(),
    labels: value.labels,
    resources: value.resources,
    usage: 'record',
    usageAt: new Date(record.stamp.wall).toISOString(),
    drivers: value.drivers,
    hostNetwork: value.hostNetwork ?? false,
    drained: value.drained === true,
    ...pendingSettings(ctx.settings(peer), value),
    eligible: value.coordinator ?? true,
    coordinator: ctx.coordinator() === peer,
    version: value.version,
    startedAt: new Date(value.startedAt).toISOString(),
  }
}

/** Settings asked of a node that its record does not reflect yet. */
function pendingSettings(asked: NodeSettingsValue | undefined, value: NodeValue): Pick<NodeView, 'pending'> {
  if (asked === undefined) return {}
  const labelsApplied = Object.entries(asked.labels).every(([key, label]) =>
    label === null ? !(key in value.labels) : value.labels[key] === label,
  )
  return asked.drained === (value.drained === true) && labelsApplied ? {} : { pending: asked }
}

/** One node by peer id, by name, or by a unique tail of its peer id (at least 4 characters). */
export function findNode(all: readonly NodeView[], ref: string): NodeView {
  const exact = all.find((node) => node.id === ref)
  if (exact !== undefined) return exact
  const byName = all.filter((node) => node.name === ref)
  const matches =
    byName.length > 0 ? byName : ref.length >= 4 ? all.filter((node) => node.id.endsWith(ref)) : []
  if (matches.length === 1) return matches[0]!
  if (matches.length === 0) throw new NodeNotFoundError(`no node has the id or name "${ref}"`)
  throw new NodeAmbiguousError(
    `"${ref}" matches ${matches.length} nodes: ${matches.map((node) => `${node.name} (${node.id})`).join(', ')}`,
  )
}
