// One node's job records with no network: a state whose lease this node holds (term 1), its job book, specs, assignments.
import { COORDINATOR_LEASE_ID, coordinatorKinds, leaseFence, leaseKind } from '../../src/coordinator/index.js'
import { JobBook } from '../../src/jobs/job-book.js'
import { type AssignValue, jobKinds } from '../../src/jobs/records.js'
import type { JobInput } from '../../src/jobs/spec.js'
import { prepareSubmission } from '../../src/jobs/submit.js'
import { type LocalState, localState } from './local-state.js'

/** The coordinator term the local node's assignments are written under. */
export const LOCAL_TERM = 1

/** A local state whose coordinator lease this node holds, and a started job book on it; `opened` collects it for closing. */
export async function bookWithLease(opened: LocalState[]): Promise<{ local: LocalState; book: JobBook }> {
  const local = await localState([...coordinatorKinds, ...jobKinds], leaseFence)
  opened.push(local)
  const { state, identity } = local
  const now = Date.now()
  await state.kind(leaseKind).put(
    COORDINATOR_LEASE_ID,
    {
      holder: identity.peerId,
      holderName: 'self',
      term: LOCAL_TERM,
      claim: state.clockNow(),
      since: now,
      expiresAt: now + 3_000,
      durationMs: 3_000,
    },
    { term: LOCAL_TERM },
  )
  const book = new JobBook(state)
  book.start()
  return { local, book }
}

/** Submits one job through the real submission path; returns its id. */
export async function submitOne(
  local: LocalState,
  book: JobBook,
  submissionId: string,
  input: Partial<JobInput> = {},
): Promise<string> {
  const submission = await prepareSubmission(
    [{ driver: 'exec', command: ['true'], submissionId, ...input }],
    {
      now: Date.now(),
      submittedBy: local.identity.peerId,
      exists: (id) => book.has(id),
    },
  )
  await local.state.write(book.specWrites(submission.fresh))
  return submission.fresh[0]!.id
}

/** Writes an assignment batch, as the coordinator does, under the local term. */
export async function writeAssignments(
  local: LocalState,
  book: JobBook,
  assignments: ReadonlyArray<readonly [id: string, value: AssignValue]>,
): Promise<void> {
  await local.state.write(book.assignmentWrites(assignments).map((write) => ({ ...write, term: LOCAL_TERM })))
}

/** Attempt 1 of a job, placed on `node` now. */
export function assigned(node: string): AssignValue {
  return {
    attempt: 1,
    generation: 0,
    phase: 'assigned',
    node,
    outcome: null,
    reason: null,
    failures: 0,
    retryAt: null,
    at: Date.now(),
  }
}
