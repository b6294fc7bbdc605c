// The services part's face: replicated desired state of long-running work, placed by the coordinator, reconciled by every node.

import { partLogger } from '../logger.js'
import { createGitSource } from './git/index.js'
import { Services } from './services.js'
import type { ServiceComponents, ServiceInit } from './types.js'

export * as serviceConstants from './constants.js'
export { serviceKinds } from './records.js'
export { Services } from './services.js'
export type { ServiceInput } from './spec.js'
export { serviceInputSchema } from './spec.js'
export type {
  InstanceView,
  ServiceComponents,
  ServiceEvents,
  ServiceInit,
  ServicesApi,
  ServiceView,
  SlotVars,
} from './types.js'

export function createServices(components: ServiceComponents, init: ServiceInit): Services {
  const log = partLogger(components.logger, 'services:git')
  return new Services(components, { ...init, git: createGitSource({ ...init, log }) })
}
