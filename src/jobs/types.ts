// The job service's types: job views, queries, events, options and what it needs of the rest of the daemon.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Coordinator } from '../coordinator/index.js'
import type { DockerEngine } from '../docker/index.js'
import type { Layers } from '../layers/index.js'
import type { Membership } from '../membership/index.js'
import type { Mesh } from '../mesh/index.js'
import type { ReplicatedState, WallClock } from '../state/index.js'
import type { JobPolicy } from './policy.js'
import type { RestartPolicy } from './spec.js'
import type { JobState } from './states.js'

/** A job as the API and CLI show it (`shoal job show --json`). */
export interface JobView {
  id: string
  name: string
  state: JobState
  /** Peer id of the node running (or that ran) the current attempt; null while pending. */
  node: string | null
  nodeName: string | null
  attempt: number
  exitCode: number | null
  tags: Record<string, string>
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  /** Why it is in this state, when that needs saying (a failure, a retry, a dependency, no node fits). */
  reason: string | null
  driver: 'exec' | 'docker'
  image: string | null
  command: string[]
  /** The job's environment; the API's TCP listener replaces the values with `***`. */
  env: Record<string, string>
  /** CPU in cores, memory and disk in bytes. */
  resources: { cpu: number; memory: number; disk: number; gpu: number }
  constraints: Record<string, string>
  timeoutMs: number | null
  retries: number
  restart: RestartPolicy
  priority: number
  after: string[]
  submissionId: string | null
}

export interface JobListQuery {
  /** Jobs in any of these states. */
  states?: readonly JobState[]
  /** Jobs whose name contains this text. */
  name?: string
  tags?: Record<string, string>
  /** Peer id. */
  node?: string
  limit?: number
  offset?: number
}

/** `GET /v1/jobs`: a page of jobs, how many matched, and how many match in each state. */
export interface JobList {
  jobs: JobView[]
  total: number
  counts: Record<JobState, number>
}

export interface WaitResult {
  jobs: JobView[]
  /** True if the time ran out before every job finished. */
  timedOut: boolean
}

export interface JobEvents {
  /** A record of this job changed (its view may have). */
  'job:changed': [id: string]
  /**
   * The views of the jobs changed since the last such event, built once per tick for every listener (only
   * while there are listeners): a burst of records for one job (spec, assignment, run report) is one view.
   */
  'job:views': [views: JobView[]]
}

export interface JobInit {
  dataDir: string
  /** @default the system clock */
  clock?: WallClock
  /** Finished jobs are deleted this long after they end; 0 keeps them. @default DEFAULT_JOB_RETENTION_MS */
  retentionMs?: number
  /** @default COLLECT_INTERVAL_MS */
  collectIntervalMs?: number
  /** @default START_TIMEOUT_MS */
  startTimeoutMs?: number
  /** Each attempt's log keeps this many bytes of output, then says it was cut. @default DEFAULT_JOB_LOG_MAX_BYTES */
  logMaxBytes?: number
  /** What this node runs for the mesh (`--drivers`, `--allow-host-network`). @default DEFAULT_JOB_POLICY: docker only */
  policy?: JobPolicy
}

export interface JobComponents {
  state: ReplicatedState
  /** Log streams between nodes. */
  mesh: Pick<Mesh, 'peerId' | 'handle' | 'openStream'>
  /** Who is alive, what each node offers, names. */
  membership: Pick<
    Membership,
    'aliveNodes' | 'livenessOf' | 'nameOf' | 'resourcesOf' | 'describe' | 'on' | 'off'
  >
  coordinator: Pick<Coordinator, 'isHolder' | 'term' | 'writeAsCoordinator' | 'on' | 'off'>
  /** Where images are, and pulls for the docker driver. */
  layers: Pick<Layers, 'imageBytesHeld' | 'pull'>
  /** Absent when no engine is configured; the docker driver is then missing. */
  docker?: DockerEngine
  logger: Logger
  metrics: Registry
}
