// Turns a submission (one spec or many) into job specs: validation, idempotent ids, `after` resolved, no cycles.
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { InvalidJobError, JobCycleError, TooManyJobsError } from '../errors.js'
import { MAX_JOBS_PER_SUBMISSION, SUBMIT_BATCH } from './constants.js'
import { JOB_ID_PATTERN, type JobSpec, jobIdFor, normaliseJob } from './spec.js'

export interface Submission {
  /** Specs to write (new jobs), in submission order. */
  fresh: JobSpec[]
  /** The id of every submitted spec, in order (a repeated submission id names the job it already made). */
  ids: string[]
}

/**
 * Validates every spec before anything is written (all or nothing). `exists` says whether a job id is
 * already known; a spec whose submission id made a job before yields that job and is not written again.
 */
export async function prepareSubmission(
  inputs: readonly unknown[],
  context: { now: number; submittedBy: string; exists(id: string): boolean },
): Promise<Submission> {
  if (inputs.length === 0) throw new InvalidJobError('the submission has no job specs')
  if (inputs.length > MAX_JOBS_PER_SUBMISSION) {
    throw new TooManyJobsError(
      `${inputs.length} job specs in one submission; at most ${MAX_JOBS_PER_SUBMISSION} (split it)`,
    )
  }
  const single = inputs.length === 1
  const batch = new Map<string, JobSpec>()
  const ids: string[] = []
  for (const [index, input] of inputs.entries()) {
    // Thousands of specs take a second to check: the daemon answers others (and renews its lease) meanwhile.
    if (index > 0 && index % SUBMIT_BATCH === 0) await yieldToLoop()
    const spec = normaliseJob(input, single ? 'job' : `job ${index}`, context)
    ids.push(spec.id)
    if (!batch.has(spec.id) && !context.exists(spec.id)) batch.set(spec.id, spec)
  }
  const known = (id: string): boolean => batch.has(id) || context.exists(id)
  for (const [index, spec] of [...batch.values()].entries()) {
    spec.after = spec.after.map((ref) => {
      if (JOB_ID_PATTERN.test(ref) && known(ref)) return ref
      const bySubmission = jobIdFor(ref)
      if (known(bySubmission)) return bySubmission
      throw new InvalidJobError(
        `${single ? 'job' : `job ${index}`}: after names ${ref}, which is neither a job id nor a submission id of a known job`,
      )
    })
    spec.after = [...new Set(spec.after)]
  }
  const cycle = findCycle(batch)
  if (cycle !== undefined)
    throw new JobCycleError(`the jobs' "after" lists form a cycle: ${cycle.join(' → ')}`)
  return { fresh: [...batch.values()], ids }
}

/** A cycle among the batch's `after` edges (existing jobs cannot point at new ones), as a path of ids. */
function findCycle(batch: ReadonlyMap<string, JobSpec>): string[] | undefined {
  const done = new Set<string>()
  const onPath = new Map<string, number>()
  for (const root of batch.keys()) {
    if (done.has(root)) continue
    // Iterative depth-first search: 10,000 jobs in one chain must not overflow the stack.
    const path: string[] = []
    const stack: Array<{ id: string; next: number }> = [{ id: root, next: 0 }]
    onPath.set(root, 0)
    path.push(root)
    while (stack.length > 0) {
      const top = stack.at(-1)!
      const parents = batch.get(top.id)?.after ?? []
      if (top.next < parents.length) {
        const parent = parents[top.next++]!
        if (!batch.has(parent) || done.has(parent)) continue
        const at = onPath.get(parent)
        if (at !== undefined) return [...path.slice(at), parent]
        onPath.set(parent, path.length)
        path.push(parent)
        stack.push({ id: parent, next: 0 })
        continue
      }
      stack.pop()
      path.pop()
      onPath.delete(top.id)
      done.add(top.id)
    }
  }
  return undefined
}
