// The jobs API's shapes (GET /v1/jobs, /v1/jobs/:id, the `job` event) and the page's groupings of job states.
import type { JobList, JobState, JobView } from '../../src/api/types.js'

export { ACTIVE_STATES, isActive, isFinal, JOB_STATES } from '../../src/jobs/states.js'
export type { JobList, JobState, JobView }
