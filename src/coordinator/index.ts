// The coordinator's face: one node at a time holds the role through the replicated lease, fenced by terms.
import { Coordinator } from './coordinator.js'
import type { CoordinatorComponents, CoordinatorInit } from './types.js'

export * as coordinatorConstants from './constants.js'
export { Coordinator } from './coordinator.js'
export type { LeaseValue } from './lease.js'
export {
  awaitsLease,
  COORDINATOR_LEASE_ID,
  COORDINATOR_LEASE_KEY,
  coordinatorKinds,
  historyAfter,
  judgeFenced,
  LEASE_KIND,
  leaseFence,
  leaseKind,
} from './lease.js'
export {
  NodeCollector,
  type NodeCollectorComponents,
  type NodeCollectorInit,
  type NodeRecordOwner,
} from './node-collector.js'
export type {
  CoordinatorComponents,
  CoordinatorEvents,
  CoordinatorInit,
  CoordinatorView,
  Role,
} from './types.js'

export function createCoordinator(components: CoordinatorComponents, init: CoordinatorInit): Coordinator {
  return new Coordinator(components, init)
}
