// The jobs API's shapes as the page relies on them (GET /v1/jobs, /v1/jobs/:id, the `job` event).

export const JOB_STATES = [
  'pending',
  'assigned',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
] as const
export type JobState = (typeof JOB_STATES)[number]

/** States a job leaves no more (unless retried). */
export const FINISHED_STATES: readonly JobState[] = ['succeeded', 'failed', 'timed-out', 'cancelled']
/** States in which a job occupies a node. */
export const ACTIVE_STATES: readonly JobState[] = ['assigned', 'running']

export interface JobView {
  id: string
  name: string
  state: JobState
  node: string | null
  nodeName: string | null
  attempt: number
  exitCode: number | null
  tags: Record<string, string>
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  reason: string | null
  driver: 'exec' | 'docker'
  image: string | null
  command: string[]
  resources: { cpu: number; memory: number; disk: number; gpu: number }
  priority: number
  after: string[]
  /** Shown when the daemon sends them. */
  constraints?: Record<string, string>
  timeoutMs?: number | null
  retries?: number
  restart?: string
}

/** `GET /v1/jobs` */
export interface JobList {
  jobs: JobView[]
  total: number
}

export function isFinished(state: JobState): boolean {
  return FINISHED_STATES.includes(state)
}

export function isActive(state: JobState): boolean {
  return ACTIVE_STATES.includes(state)
}
