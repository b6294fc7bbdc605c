// The job service's face: submit, list, cancel, retry, wait and read logs of jobs run anywhere in the mesh.
import { Jobs } from './jobs.js'
import type { JobComponents, JobInit } from './types.js'

export * as jobConstants from './constants.js'
export { GpuAllocation } from './gpu-allocation.js'
export { Jobs } from './jobs.js'
export type { DriverName, JobPolicy } from './policy.js'
export { DEFAULT_JOB_POLICY, DRIVER_NAMES, enabledDrivers } from './policy.js'
export { jobKinds } from './records.js'
export type { JobInput } from './spec.js'
export type { FinalState, JobState } from './states.js'
export { FINAL_STATES, JOB_STATES } from './states.js'
export type {
  JobComponents,
  JobEvents,
  JobInit,
  JobList,
  JobListQuery,
  JobView,
  WaitResult,
} from './types.js'

export function createJobs(components: JobComponents, init: JobInit): Jobs {
  return new Jobs(components, init)
}
