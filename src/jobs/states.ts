// Job states and their groupings, free of dependencies: shared by the daemon, the CLI and the web page.

export const FINAL_STATES = ['succeeded', 'failed', 'timed-out', 'cancelled'] as const
export type FinalState = (typeof FINAL_STATES)[number]
/** Every state, in the order a job goes through them. */
export const JOB_STATES = ['pending', 'assigned', 'running', ...FINAL_STATES] as const
export type JobState = (typeof JOB_STATES)[number]
/** States in which a job occupies a node. */
export const ACTIVE_STATES = ['assigned', 'running'] as const satisfies readonly JobState[]

/** A state the job leaves no more (unless retried). */
export function isFinal(state: string): state is FinalState {
  return (FINAL_STATES as readonly string[]).includes(state)
}

export function isActive(state: string): boolean {
  return (ACTIVE_STATES as readonly string[]).includes(state)
}

export function isJobState(state: string): state is JobState {
  return (JOB_STATES as readonly string[]).includes(state)
}
