// Membership's types: the node view, its events, and what it needs from the rest of the daemon.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { DockerEngine } from '../docker/index.js'
import type { Mesh } from '../mesh/index.js'
import type { ReplicatedState, WallClock } from '../state/index.js'
import type { DeclaredGpus } from './gpus.js'
import type { Resources } from './node-record.js'
import type { Liveness } from './swim-view.js'

/** A node as the API and CLI show it (`shoal node list --json`). */
export interface NodeView {
  id: string
  name: string
  state: Liveness
  /** True for the node answering the request. */
  self: boolean
  /** True if the answering node has a direct connection to it. */
  connected: boolean
  addresses: string[]
  /** ISO time this node last had a sign of life from it. */
  lastSeen: string
  labels: Record<string, string>
  /**
   * What its record says, with load, free memory and free disk as the node answered when asked (`usage: 'live'`),
   * or as its record last carried them (`usage: 'record'`: it did not answer in time, or is not alive). Load and
   * free memory are not news to the record: a record's figures may be hours old.
   */
  resources: Resources
  /** Where the load, free memory and free disk figures come from. */
  usage: 'live' | 'record'
  /** ISO time they were sampled (for `record`: when the record was written). */
  usageAt: string
  drivers: { docker: boolean; exec: boolean }
  /** Its containers may use host, container:<name> or named networks (`--allow-host-network`). */
  hostNetwork: boolean
  /** Drained (`shoal node drain`): no new work is placed on it. */
  drained: boolean
  /**
   * Settings asked of it (`node drain`, `node label`) that its record does not show yet: it has not applied them
   * (it is down, or they are on their way). Absent when there are none.
   */
  pending?: { drained: boolean; labels: Record<string, string | null> }
  /** Stands for the coordinator role. */
  eligible: boolean
  /** Holds the coordinator role, as the answering node sees it. */
  coordinator: boolean
  version: string
  startedAt: string
}

export interface MembershipEvents {
  'peer:state': [peer: string, state: Liveness, previous: Liveness | undefined]
  /** A node's record now says it is drained (true) or no longer (false). */
  'peer:drained': [peer: string, drained: boolean]
}

/** What a node says of itself that its operator may change by a reload (SIGHUP). */
export type OwnSettings = Pick<MembershipInit, 'labels' | 'drivers' | 'hostNetwork'>

export interface MembershipInit {
  dataDir: string
  name: string
  labels: Record<string, string>
  version: string
  /** Stands for the coordinator role. @default true */
  coordinatorEligible?: boolean
  /**
   * Drivers the node's policy lets it run (the jobs part enforces it; this advertises it); docker is advertised
   * only while an engine answers too. @default docker only
   */
  drivers?: { docker: boolean; exec: boolean }
  /**
   * GPUs this node offers, instead of what the system says (`--gpus N[:MODEL]`: the system does not say, or a
   * test). @default the NVIDIA devices the kernel driver lists
   */
  gpus?: DeclaredGpus
  /** The node's policy allows host networking for containers (advertised for placement). @default false */
  hostNetwork?: boolean
  /** @default PROBE_INTERVAL_MS */
  probeIntervalMs?: number
  /** @default PROBE_TIMEOUT_MS */
  probeTimeoutMs?: number
  /** @default SUSPICION_MIN_MS */
  suspicionMinMs?: number
  /** @default SUSPICION_MAX_MS */
  suspicionMaxMs?: number
  /** Peers' clocks this far ahead of ours make them unfit to coordinate. @default MAX_CLOCK_SKEW_MS */
  maxClockSkewMs?: number
  /** @default RESOURCE_WRITE_MIN_MS */
  resourceWriteMinMs?: number
  /** Free-disk drift is written at most every members × this. @default USAGE_WRITE_SPACING_MS */
  usageSpacingMs?: number
  /** @default RESOURCE_SAMPLE_INTERVAL_MS */
  resourceSampleIntervalMs?: number
  /** How long a usage question waits for its answer. @default USAGE_ASK_TIMEOUT_MS */
  usageAskTimeoutMs?: number
  /** Samples this node's resources (a test drives drift with its own). @default the system's (resources.ts) */
  sampleResources?: () => Promise<Resources>
  /** @default NODE_REFRESH_MS */
  refreshMs?: number
  /** @default the system clock */
  clock?: WallClock
}

/** What membership uses of the mesh: its own addresses, pings, and the dialer's list of peers. */
export type MembershipMesh = Pick<
  Mesh,
  | 'peerId'
  | 'addresses'
  | 'isConnected'
  | 'dropConnections'
  | 'addPeerAddresses'
  | 'forgetPeer'
  | 'openStream'
  | 'connect'
  | 'handle'
  | 'on'
  | 'off'
>

export interface MembershipComponents {
  state: ReplicatedState
  mesh: MembershipMesh
  /** Absent when no engine is configured; the node then reports no docker driver. */
  docker?: Pick<DockerEngine, 'ping'>
  logger: Logger
  metrics: Registry
}
