// The coordinator's assignment values: pending (waiting to be placed), assigned (on a node), final (ended by it).
import { SERVICE_HEALTHY_RUN_MS } from '../constants.js'
import type { AssignValue } from '../records.js'

/** An assignment waiting to be placed; the other phases are built on it. */
export function pendingValue({
  attempt,
  generation,
  now,
}: {
  attempt: number
  generation: number
  now: number
}): AssignValue {
  return {
    attempt,
    generation,
    phase: 'pending',
    node: null,
    outcome: null,
    reason: null,
    failures: 0,
    retryAt: null,
    at: now,
  }
}

/** The job's current attempt placed on `node`. */
export function assignedValue(assign: AssignValue | undefined, node: string, now: number): AssignValue {
  return {
    ...pendingValue({ attempt: assign?.attempt ?? 1, generation: assign?.generation ?? 0, now }),
    phase: 'assigned',
    node,
    failures: assign?.failures ?? 0,
  }
}

/** The coordinator ended the job itself: cancelled before it ran, or a parent did not succeed. */
export function finalValue(
  assign: AssignValue | undefined,
  generation: number,
  outcome: 'failed' | 'cancelled',
  reason: string,
  now: number,
): AssignValue {
  return {
    ...pendingValue({ attempt: assign?.attempt ?? 1, generation, now }),
    phase: 'final',
    outcome,
    reason,
    failures: assign?.failures ?? 0,
  }
}

/** A run long enough that a service's exit after it does not count as a failure (it was healthy). */
export function ranLong(run: { startedAt: number | null; finishedAt: number | null }): boolean {
  return (
    run.startedAt !== null &&
    run.finishedAt !== null &&
    run.finishedAt - run.startedAt >= SERVICE_HEALTHY_RUN_MS
  )
}
