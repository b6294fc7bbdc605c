// The local API's face: HTTP on <data-dir>/shoal.sock for the CLI, and on a TCP port for the web page and tools.

import type { ApiComponents, DaemonFacts } from './context.js'
import { ApiServer } from './server.js'

export type { ApiComponents, DaemonFacts } from './context.js'
export { ApiServer, isLoopbackHost } from './server.js'
export type * from './types.js'

export interface ApiInit {
  socketPath: string
  /** @default '127.0.0.1' */
  httpHost: string
  /** 0 picks any free port. */
  httpPort: number
  /** Required (≥ 16 characters) when httpHost is not loopback. */
  token?: string
  facts: DaemonFacts
}

export function createApiServer(components: ApiComponents, init: ApiInit): ApiServer {
  return new ApiServer(components, init)
}
