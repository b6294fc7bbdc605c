// The jobs API's shapes (GET /v1/jobs, /v1/jobs/:id, the `job` event) and the page's groupings of job states.
import type { JobState, JobView } from '../../src/api/types.js'

export type { JobState, JobView }

/** Every state, in the order a job goes through them (the filter lists them so). */
export const JOB_STATES: readonly JobState[] = [
  'pending',
  'assigned',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
]

/** States a job leaves no more (unless retried). */
export const FINISHED_STATES: readonly JobState[] = ['succeeded', 'failed', 'timed-out', 'cancelled']
/** States in which a job occupies a node. */
export const ACTIVE_STATES: readonly JobState[] = ['assigned', 'running']

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
