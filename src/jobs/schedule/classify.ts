// Classifying one job whose records changed: what it needs now (a write, a place in the queue, nothing) — on the coordinator.
import type { Liveness } from '../../membership/index.js'
import { MAX_BACKOFF_MS } from '../constants.js'
import type { JobRecords } from '../job-book.js'
import type { AssignValue } from '../records.js'
import type { RunTimeAverage } from '../run-time.js'
import { isFinal } from '../states.js'
import { cancelRequested, deriveState, willRestart } from '../view.js'
import type { WaitQueue } from '../wait-queue.js'
import { finalValue, pendingValue, ranLong } from './assignment-values.js'
import type { Placements } from './placements.js'

/** Nodes in these states lost what they ran: it goes back to pending. */
export const LOST: ReadonlySet<Liveness | undefined> = new Set<Liveness | undefined>(['dead', 'left'])

export interface ClassifyContext {
  placements: Placements
  waiting: WaitQueue
  runTimes: RunTimeAverage
  livenessOf(node: string): Liveness | undefined
  nameOf(node: string): string
  /** A job moved off a node that was lost (for the metric). */
  movedOffLostNode(): void
  /** The node's record says an operator drained it. */
  isDrained(node: string): boolean
  /** A service moved off a drained node (for the metric). */
  movedOffDrainedNode(): void
  now: number
  /** Queues a new assignment value for the job. */
  write(id: string, value: AssignValue): void
}

/** Looks at one job whose records changed; decides what it needs now, queuing a write if it needs one. */
export function classifyJob(id: string, job: JobRecords | undefined, ctx: ClassifyContext): void {
  const previous = ctx.placements.forget(id)
  ctx.waiting.delete(id)
  if (job === undefined) return
  const { spec, assign, control } = job
  const generation = assign?.generation ?? 0
  const { now } = ctx
  if (control !== undefined && control.generation > generation && !control.cancel) {
    ctx.write(id, pendingValue({ attempt: (assign?.attempt ?? 0) + 1, generation: control.generation, now }))
    return
  }
  // An attempt this coordinator had placed, seen ending: how long jobs run decides whether to queue ahead.
  const ended = job.run
  if (previous !== undefined && (ended?.state === 'succeeded' || ended?.state === 'failed'))
    ctx.runTimes.observe(ended.startedAt, ended.finishedAt)
  const derived = deriveState(job)
  if (isFinal(derived.state)) return
  const cancelled = cancelRequested(job)
  if (assign === undefined || assign.phase === 'pending') {
    if (cancelled) {
      ctx.write(id, finalValue(assign, generation, 'cancelled', 'cancelled before it ran', now))
      return
    }
    ctx.waiting.add(spec)
    return
  }
  // Assigned: still running, ended (perhaps to run again), or on a node that was lost.
  const node = assign.node!
  const run = job.run
  if (run !== undefined && run.state !== 'running') {
    if (!willRestart(spec, run, assign.failures) || cancelled) return
    const counts = run.state !== 'lost' && !(spec.restart === 'always' && ranLong(run))
    const failures = assign.failures + (counts ? 1 : 0)
    const backoff = counts ? Math.min(MAX_BACKOFF_MS, spec.backoffMs * 2 ** (failures - 1)) : 0
    ctx.write(id, {
      ...pendingValue({ attempt: assign.attempt + 1, generation, now }),
      failures,
      retryAt: backoff > 0 ? now + backoff : null,
      reason: derived.reason,
    })
    return
  }
  if (LOST.has(ctx.livenessOf(node))) {
    if (cancelled) {
      ctx.write(id, finalValue(assign, generation, 'cancelled', 'cancelled; its node was lost', now))
      return
    }
    ctx.movedOffLostNode()
    ctx.write(id, {
      ...pendingValue({ attempt: assign.attempt + 1, generation, now }),
      failures: assign.failures,
      reason: `its node ${ctx.nameOf(node)} was lost during attempt ${assign.attempt}`,
    })
    return
  }
  // A service on a drained node moves (its copy there is stopped when the new assignment reaches it); a batch
  // job runs to its end where it is.
  if (spec.restart === 'always' && !cancelled && ctx.isDrained(node)) {
    ctx.movedOffDrainedNode()
    ctx.write(id, {
      ...pendingValue({ attempt: assign.attempt + 1, generation, now }),
      failures: assign.failures,
      reason: `its node ${ctx.nameOf(node)} was drained during attempt ${assign.attempt}`,
    })
    return
  }
  // Still placed there; an unstarted attempt keeps the time this coordinator first saw it unstarted.
  const keepSince = previous !== undefined && run === undefined && previous.node === node
  ctx.placements.activate(id, node, spec.resources, keepSince ? previous.since : undefined)
}
