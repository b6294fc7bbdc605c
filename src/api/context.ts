// What route handlers can see: the parts' public faces and facts about this daemon.
import type { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Coordinator } from '../coordinator/index.js'
import type { Jobs } from '../jobs/index.js'
import type { Layers } from '../layers/index.js'
import type { Membership } from '../membership/index.js'
import type { Mesh } from '../mesh/index.js'
import type { ServiceEvents, ServicesApi } from '../services/types.js'
import type { ReplicatedState } from '../state/index.js'

export interface ApiComponents {
  state: ReplicatedState
  membership: Membership
  coordinator: Coordinator
  layers: Layers
  jobs: Jobs
  services: ServicesApi & EventEmitter<ServiceEvents>
  mesh: Mesh
  metrics: Registry
  logger: Logger
}

export interface ApiInit {
  socketPath: string
  /** @default '127.0.0.1' */
  httpHost: string
  /** 0 picks any free port. */
  httpPort: number
  /**
   * Host names (or addresses) the TCP listener answers to besides loopback and its own address: the names a
   * browser uses to reach it (`--http-name`). Any other Host is refused (DNS rebinding). @default []
   */
  httpNames?: string[]
  /** Event streams open at once (`--max-event-clients`). @default 64 */
  maxEventClients?: number
  /**
   * The socket's group (a gid): its members may connect (mode 0660), as the data directory lets them reach it
   * (0710, see restrictToOwner). @default none: the owner only (0600)
   */
  socketGid?: number
  /** Required (≥ 16 characters) when httpHost is not loopback. */
  token?: string
  facts: DaemonFacts
}

export interface DaemonFacts {
  dataDir: string
  version: string
  name: string
  startedAt: number
  swarmKeyFingerprint: string
}

export interface ApiContext extends ApiComponents {
  facts: DaemonFacts
  /** Base URL of the TCP listener, once it listens. */
  httpUrl(): string
}
