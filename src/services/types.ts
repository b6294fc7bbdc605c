// The services part's types: service and instance views, events, options and what it needs of the rest of the daemon.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Coordinator } from '../coordinator/index.js'
import type { DockerEngine } from '../docker/index.js'
import type { Jobs } from '../jobs/index.js'
import type { Layers } from '../layers/index.js'
import type { Membership } from '../membership/index.js'
import type { Mesh } from '../mesh/index.js'
import type { ReplicatedState, WallClock } from '../state/index.js'
import type { InstanceState } from './records.js'
import type { Vars } from './spec.js'

/** One instance as the API and CLI show it. */
export interface InstanceView {
  slot: number
  /** The node it is placed on (null while no node fits), and that node's name. */
  node: string | null
  nodeName: string | null
  /** As its node reports it; `pending` while nothing is reported (not placed, or its node has not started it yet). */
  state: InstanceState | 'pending'
  /** Generation the coordinator placed, and the one its node runs (the acknowledgement). */
  placedGeneration: number
  generation: number | null
  commit: string | null
  restarts: number
  health: 'none' | 'starting' | 'healthy' | 'unhealthy'
  reason: string | null
  startedAt: string | null
  /** Usage as its node last reported it: CPU in cores, memory and disk in bytes. */
  cpu: number
  memory: number
  disk: number
}

/** A service as the API and CLI show it (`shoal service status NAME --json`). */
export interface ServiceView {
  name: string
  driver: 'exec' | 'docker'
  image: string | null
  git: { url: string; ref: string | null; syncIntervalMs: number } | null
  command: string[]
  /** The API's TCP listener replaces the values with `***`. */
  env: Record<string, string>
  resources: { cpu: number; memory: number; disk: number; gpu: number }
  constraints: Record<string, string>
  health: { command: string[]; intervalMs: number; timeoutMs: number; retries: number } | null
  replicas: number
  desired: 'running' | 'stopped'
  /** The generation asked for, and the lowest one any placed instance runs (null before any runs). */
  generation: number
  appliedGeneration: number | null
  /** Instances running (and healthy, when there is a health check). */
  ready: number
  /** The commit the git ref points at (git sources), and why it could not be looked up. */
  commit: string | null
  commitError: string | null
  initialVars: Vars
  createdAt: string
  updatedAt: string
  instances: InstanceView[]
}

/** A slot's persistent variables (`shoal service vars NAME`). */
export interface SlotVars {
  slot: number
  values: Vars
  /** False before the slot's node has written any: the values are the spec's initial ones. */
  replicated: boolean
  node: string | null
  updatedAt: string | null
}

/** What the API and CLI use: every action from any node. Names or unique prefixes everywhere. */
export interface ServicesApi {
  /** Adds services (all or nothing): SHOAL_INVALID_SERVICE, SHOAL_SERVICE_EXISTS. */
  add(inputs: readonly unknown[]): Promise<ServiceView[]>
  list(): ServiceView[]
  status(ref: string): ServiceView
  start(ref: string): Promise<ServiceView>
  stop(ref: string): Promise<ServiceView>
  /** A new generation with the same spec: instances restart one at a time. */
  restart(ref: string): Promise<ServiceView>
  scale(ref: string, replicas: number): Promise<ServiceView>
  /** A new spec (its name must match): a new generation, rolled one instance at a time. */
  update(ref: string, input: unknown): Promise<ServiceView>
  /** Variables back to the spec's initial values; running instances restart to read them. */
  reset(ref: string): Promise<ServiceView>
  vars(ref: string): SlotVars[]
  remove(ref: string): Promise<void>
  logs(
    ref: string,
    options: { slot?: number; follow: boolean; signal: AbortSignal },
  ): AsyncGenerator<Uint8Array>
}

export interface ServiceEvents {
  /** A record of this service changed (its view may have); `removed` once it is gone. */
  'service:changed': [name: string, removed: boolean]
}

export interface ServiceInit {
  dataDir: string
  /** @default the system clock */
  clock?: WallClock
  /** A file of git credentials (`host: {username, password}`), never gossiped or logged. */
  gitCredentialsFile?: string
  /** Each instance's log keeps this many bytes of output per start. */
  logMaxBytes?: number
  /** Containers of git-sourced services may mount their checkout read-only (`--allow-checkout-mounts`). @default false */
  allowCheckoutMounts?: boolean
}

export interface ServiceComponents {
  state: ReplicatedState
  mesh: Pick<Mesh, 'peerId' | 'handle' | 'openStream'>
  membership: Pick<
    Membership,
    'aliveNodes' | 'livenessOf' | 'nameOf' | 'resourcesOf' | 'describe' | 'lastSeen' | 'on' | 'off'
  >
  coordinator: Pick<Coordinator, 'isHolder' | 'term' | 'writeAsCoordinator' | 'on' | 'off'>
  layers: Pick<Layers, 'imageBytesHeld'>
  /**
   * The jobs part, whose node policy, drivers (one exec spawner, one engine client) and GPU allocation instances
   * share, and around whose placed work the coordinator places instances.
   */
  jobs: Pick<Jobs, 'drivers' | 'currentPolicy' | 'gpus' | 'placedUsage'>
  docker?: DockerEngine
  logger: Logger
  metrics: Registry
}
