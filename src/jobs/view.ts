// A job's state derived from its records: a pure function, so every node shows the same job the same way.
import type { JobRecords } from './job-book.js'
import type { RunValue } from './records.js'
import type { JobSpec } from './spec.js'
import type { FinalState, JobState } from './states.js'

export interface DerivedState {
  state: JobState
  attempt: number
  node: string | null
  exitCode: number | null
  reason: string | null
  startedAt: number | null
  finishedAt: number | null
}

/** True when a user asked to cancel the job's current generation (a later retry starts a new one). */
export function cancelRequested({ assign, control }: Pick<JobRecords, 'assign' | 'control'>): boolean {
  return control?.cancel === true && control.generation >= (assign?.generation ?? 0)
}

/** True when a run that ended this way will be run again under the spec's restart policy. */
export function willRestart(spec: JobSpec, run: RunValue, failures: number): boolean {
  if (run.state === 'cancelled') return false
  if (run.state === 'lost') return true
  if (spec.restart === 'always') return true
  if (run.state === 'succeeded') return false
  return spec.restart === 'on-failure' && failures < spec.retries
}

export function deriveState({ spec, assign, control, run }: JobRecords): DerivedState {
  const generation = assign?.generation ?? 0
  const base = {
    attempt: assign?.attempt ?? 1,
    node: null,
    exitCode: null,
    reason: assign?.reason ?? null,
    startedAt: null,
    finishedAt: null,
  }
  if (control !== undefined && control.generation > generation && !control.cancel) {
    return { ...base, state: 'pending', reason: 'a retry was requested' }
  }
  if (assign === undefined) return { ...base, state: 'pending', reason: null }
  if (assign.phase === 'final') {
    return { ...base, state: assign.outcome ?? 'failed', finishedAt: assign.at }
  }
  if (assign.phase === 'pending') return { ...base, state: 'pending' }
  const placed = { ...base, node: assign.node, reason: null }
  if (run === undefined) return { ...placed, state: 'assigned' }
  const times = { startedAt: run.startedAt, exitCode: run.exitCode, reason: run.reason }
  if (run.state === 'running') return { ...placed, ...times, state: 'running' }
  if (willRestart(spec, run, assign.failures)) {
    return { ...placed, ...times, state: 'pending', node: null, reason: restartReason(run) }
  }
  const gaveUp =
    run.state !== 'succeeded' && run.state !== 'cancelled' && spec.retries > 0
      ? `; ${spec.retries} ${spec.retries === 1 ? 'retry' : 'retries'} used up`
      : ''
  return {
    ...placed,
    ...times,
    reason: run.reason === null ? null : `${run.reason}${gaveUp}`,
    finishedAt: run.finishedAt,
    state: run.state as FinalState,
  }
}

function restartReason(run: RunValue): string {
  const what = run.state === 'lost' ? 'was lost' : run.state === 'succeeded' ? 'exited' : run.state
  return `attempt ${run.attempt} ${what}${run.reason === null ? '' : ` (${run.reason})`}; it will run again`
}
