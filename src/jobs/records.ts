// The job records, in batches: specs by submission, assignments by node and pass (fenced), run reports by node and flush; controls per job.
import { z } from 'zod'
import { defineKind, PEER_ID_PATTERN, subjectOf } from '../state/index.js'
import { JOB_ID_PATTERN, jobSpecSchema } from './spec.js'
import { FINAL_STATES } from './states.js'

const uint = z.number().int().nonnegative()
const peerId = z.string().regex(PEER_ID_PATTERN)

/**
 * An assignment: the coordinator's decision for a job's current attempt, under its term.
 * - `pending`: waiting (for parents, capacity, a retry time); `node` is null;
 * - `assigned`: `node` runs attempt `attempt`;
 * - `final`: the coordinator ended the job itself (`outcome`: cancelled before it ran, a parent failed).
 */
export const assignValueSchema = z.object({
  attempt: uint.min(1),
  /** Bumped by each `shoal job retry`; matches the control record's generation it answers. */
  generation: uint,
  phase: z.enum(['pending', 'assigned', 'final']),
  node: peerId.nullable(),
  outcome: z.enum(FINAL_STATES).nullable(),
  reason: z.string().max(1024).nullable(),
  /** Failed runs so far in this generation (lost work does not count). */
  failures: uint,
  /** Not before this time (ms since the epoch): the retry backoff. */
  retryAt: uint.nullable(),
  at: uint,
})
export type AssignValue = z.infer<typeof assignValueSchema>

/** A run report: what the node running an attempt says of it; written only by that node. */
export const runValueSchema = z.object({
  node: peerId,
  attempt: uint.min(1),
  /** `lost`: the node restarted while running it; the coordinator runs it again (not a failure). */
  state: z.enum(['running', 'succeeded', 'failed', 'timed-out', 'cancelled', 'lost']),
  exitCode: z.number().int().nullable(),
  reason: z.string().max(1024).nullable(),
  startedAt: uint.nullable(),
  finishedAt: uint.nullable(),
  /** Process group of an exec job (so a restarted node can stop what it left running). */
  pid: uint.nullable(),
})
export type RunValue = z.infer<typeof runValueSchema>
export type RunState = RunValue['state']

/** `control/<id>`: what users asked of a job: cancel it, or run it again (a new generation). */
export const controlValueSchema = z.object({
  generation: uint,
  cancel: z.boolean(),
  at: uint,
})
export type ControlValue = z.infer<typeof controlValueSchema>

export const SPECS_KIND = 'jobs'
export const ASSIGNMENTS_KIND = 'assignments'
export const RUNS_KIND = 'runs'
export const CONTROL_KIND = 'control'

/** Assignments with no node (pending, or ended by the coordinator) go in batches under this name. */
export const NO_NODE = 'none'

const jobId = z.string().regex(JOB_ID_PATTERN)
/** A batch's name after its writer: the writer's HLC stamp when it wrote it (`<wall>-<counter>`), unique per writer. */
const BATCH_ID = /^\d{1,16}-\d{1,10}$/

/** At most this many jobs in one batch record (far more than fit in MAX_RECORD_BYTES for any real job). */
const MAX_BATCH_ENTRIES = 10_000

export const specBatchSchema = z.object({ specs: z.array(jobSpecSchema).min(1).max(MAX_BATCH_ENTRIES) })
export type SpecBatch = z.infer<typeof specBatchSchema>

export const assignmentBatchSchema = z.object({
  entries: z
    .record(jobId, assignValueSchema)
    .refine((entries) => Object.keys(entries).length <= MAX_BATCH_ENTRIES, 'too many entries'),
})
export type AssignmentBatch = z.infer<typeof assignmentBatchSchema>

export const runBatchSchema = z.object({
  reports: z
    .array(runValueSchema.extend({ job: jobId }))
    .min(1)
    .max(MAX_BATCH_ENTRIES),
})
export type RunBatch = z.infer<typeof runBatchSchema>

/** `<writer>/<batch>` or `<node>/<batch>`: who a batch belongs to, and its name. */
function batchKey(id: string): { owner: string; batch: string } | undefined {
  const slash = id.indexOf('/')
  if (slash < 0) return undefined
  const owner = id.slice(0, slash)
  const batch = id.slice(slash + 1)
  return BATCH_ID.test(batch) ? { owner, batch } : undefined
}

/**
 * `jobs/<submitter>/<batch>`: the specs of one submission (or a slice of a large one), written once by the node
 * that took it. Deleted when every job in it is collected (by the coordinator; any member may write the tombstone).
 */
export const specBatchKind = defineKind<SpecBatch>({
  name: SPECS_KIND,
  schema: specBatchSchema,
  writer: (record) => {
    const key = batchKey(subjectOf(record.key))
    if (key === undefined || !PEER_ID_PATTERN.test(key.owner))
      return `${record.key} is not jobs/<peer>/<batch>`
    if (record.deleted || record.value === null) return undefined
    if (key.owner !== record.origin) return `${record.key} may only be written by ${key.owner}`
    const foreign = record.value.specs.find((spec) => spec.submittedBy !== record.origin)
    return foreign === undefined
      ? undefined
      : `${record.key} holds a spec submitted by ${foreign.submittedBy}`
  },
})

/**
 * `assignments/<node>/<batch>`: one scheduling pass's assignments to one node (or to none: pending and ended jobs),
 * written by the coordinator under its term. A job's assignment is its entry in the batch that orders last
 * (term, then stamp): batches are never rewritten, and a withdrawn batch leaves the one before it in force.
 */
export const assignmentBatchKind = defineKind<AssignmentBatch>({
  name: ASSIGNMENTS_KIND,
  schema: assignmentBatchSchema,
  fenced: true,
  writer: (record) => {
    const key = batchKey(subjectOf(record.key))
    if (key === undefined || (key.owner !== NO_NODE && !PEER_ID_PATTERN.test(key.owner))) {
      return `${record.key} is not assignments/<node or none>/<batch>`
    }
    if (record.deleted || record.value === null) return undefined
    const node = key.owner === NO_NODE ? null : key.owner
    for (const [id, entry] of Object.entries(record.value.entries)) {
      if (entry.node !== node)
        return `${record.key} holds an assignment of ${id} to ${entry.node ?? 'no node'}`
    }
    return undefined
  },
})

/**
 * `runs/<node>/<batch>`: one flush of a node's run reports (the attempts it started and ended since the last
 * flush), written only by that node. A report of an attempt is its latest by stamp.
 */
export const runBatchKind = defineKind<RunBatch>({
  name: RUNS_KIND,
  schema: runBatchSchema,
  writer: (record) => {
    const key = batchKey(subjectOf(record.key))
    if (key === undefined || !PEER_ID_PATTERN.test(key.owner))
      return `${record.key} is not runs/<node>/<batch>`
    if (record.deleted || record.value === null) return undefined
    if (key.owner !== record.origin) return `${record.key} may only be written by ${key.owner}`
    const foreign = record.value.reports.find((report) => report.node !== record.origin)
    return foreign === undefined ? undefined : `${record.origin} reported a run for ${foreign.node}`
  },
})

/** `control/<id>`: a user's cancel or retry of one job. */
export const controlKind = defineKind<ControlValue>({
  name: CONTROL_KIND,
  schema: controlValueSchema,
  writer: (record) =>
    JOB_ID_PATTERN.test(subjectOf(record.key)) ? undefined : `${record.key} does not name a job id`,
})

/** The kinds the jobs part writes. */
export const jobKinds = [specBatchKind, assignmentBatchKind, runBatchKind, controlKind]
