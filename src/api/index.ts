// The local API's face: HTTP on <data-dir>/shoal.sock for the CLI, and on a TCP port for the web page and tools.

import type { ApiComponents, ApiInit } from './context.js'
import { ApiServer } from './server.js'

export { DEFAULT_MAX_EVENT_CLIENTS } from './constants.js'
export type { ApiComponents, ApiInit, DaemonFacts } from './context.js'
export { canonicalHost, isLoopbackHost } from './host-policy.js'
export { ApiServer } from './server.js'
export type * from './types.js'

export function createApiServer(components: ApiComponents, init: ApiInit): ApiServer {
  return new ApiServer(components, init)
}
