// Membership's face: each node's own record, SWIM probing of the others, and the liveness view of all of them.
import { Membership } from './membership.js'
import type { MembershipComponents, MembershipInit } from './types.js'

export * as membershipConstants from './constants.js'
export type { DeclaredGpus, GpuSet } from './gpus.js'
export { MAX_GPU_MODEL_LENGTH, MAX_GPUS } from './gpus.js'
export type { LivenessValue } from './liveness-record.js'
export { LIVENESS_KIND, livenessKind } from './liveness-record.js'
export { Membership } from './membership.js'
export type { NodeValue, Resources } from './node-record.js'
export { membershipKinds, NODE_KIND, nodeKind } from './node-record.js'
export type { NodeSettingsChange, NodeSettingsValue } from './node-settings.js'
export { NODE_SETTINGS_KIND, nodeSettingsKind } from './node-settings.js'
export type { Liveness } from './swim-view.js'
export { SwimView } from './swim-view.js'
export type {
  MembershipComponents,
  MembershipEvents,
  MembershipInit,
  MembershipMesh,
  NodeView,
} from './types.js'

export function createMembership(components: MembershipComponents, init: MembershipInit): Membership {
  return new Membership(components, init)
}
