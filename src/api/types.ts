// Shapes of the local API's JSON, shared with the CLI (type-only, so the CLI imports no daemon code).
import type { CoordinatorView } from '../coordinator/index.js'
import type { NodeView } from '../membership/index.js'
import type { ServiceView } from '../services/types.js'

export type { CoordinatorView, Role } from '../coordinator/index.js'
export type { JobInput, JobList, JobState, JobView, WaitResult } from '../jobs/index.js'
export type { ImageView, LayerView, LocalImage, PullEvent, PullResult } from '../layers/index.js'
export type { Liveness, NodeView } from '../membership/index.js'
export type { ServiceInput, Vars } from '../services/spec.js'
export type { InstanceView, ServiceView, SlotVars } from '../services/types.js'

/** `GET /v1/status`, printed by `shoal status --json`. */
export interface StatusView {
  peerId: string
  name: string
  /** Full multiaddrs ending in /p2p/<peerId>; give one to another machine's --bootstrap. */
  addresses: string[]
  /** The HTTP port's base URL (web page, /metrics, read-only API). */
  httpUrl: string
  dataDir: string
  version: string
  /** Connected peers. */
  peers: number
  /** Records held in the replicated state. */
  records: number
  /** Other nodes in this node's liveness view, by state. */
  nodes: Record<'alive' | 'suspect' | 'dead' | 'left', number>
  startedAt: string
  uptimeSeconds: number
  /** First 8 hex digits of the swarm key's SHA-256: equal on every member of one mesh. */
  swarmKeyFingerprint: string
  /** Port of the blob channel peers fetch layers from (TLS with a key derived from the swarm key). */
  blobPort: number
  /** The coordinator as this node sees it (`GET /v1/coordinator`). */
  coordinator: CoordinatorView
}

/** Body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string }
}

/** `data` of a `record` event on `GET /v1/events`. */
export interface RecordEvent {
  key: string
  kind: string
  value: unknown
  deleted: boolean
  origin: string
  term: number
  stamp: { wall: number; counter: number }
  source: 'local' | 'gossip' | 'sync'
}

/** `data` of a `node` event on `GET /v1/events`: a liveness change seen by this node. */
export interface NodeStateEvent {
  id: string
  name: string
  state: NodeView['state']
  previous: NodeView['state'] | null
}

/** `data` of a `service` event on `GET /v1/events`: the service as it is now, or its name once removed. */
export type ServiceEvent = ServiceView | { name: string; removed: true }

export type { StatsSample, StatsView } from './routes/stats.js'
