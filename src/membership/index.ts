// Membership's face: each node's own record and heartbeat, and a liveness view of all the others.
import { Membership } from './membership.js'
import type { MembershipComponents, MembershipInit } from './types.js'

export * as membershipConstants from './constants.js'
export type { Liveness } from './liveness.js'
export { LivenessView } from './liveness.js'
export { Membership } from './membership.js'
export type { NodeValue, Resources } from './node-record.js'
export { membershipKinds, NODE_KIND, nodeKind } from './node-record.js'
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
