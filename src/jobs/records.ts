// The job records: `job/<id>` (spec), `assign/<id>` (coordinator, fenced), `run/<id>/<attempt>` (runner), `control/<id>`.
import { z } from 'zod'
import { defineKind, PEER_ID_PATTERN, type StateRecord, subjectOf } from '../state/index.js'
import { JOB_ID_PATTERN, type JobSpec, jobSpecSchema } from './spec.js'
import { FINAL_STATES } from './states.js'

const uint = z.number().int().nonnegative()
const peerId = z.string().regex(PEER_ID_PATTERN)

/**
 * `assign/<id>`: the coordinator's decision for the job's current attempt, under its term.
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

/** `run/<id>/<attempt>`: what the node running an attempt reports; written only by that node. */
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

export const JOB_KIND = 'job'
export const ASSIGN_KIND = 'assign'
export const RUN_KIND = 'run'
export const CONTROL_KIND = 'control'

/** The id of an attempt's run record: `<job id>/<attempt>`. */
export const runId = (id: string, attempt: number): string => `${id}/${attempt}`

/** The job id and attempt of a run record id, or undefined. */
export function parseRunId(runRecordId: string): { id: string; attempt: number } | undefined {
  const match = /^(j[0-9a-f]{16})\/([1-9]\d{0,5})$/.exec(runRecordId)
  return match === null ? undefined : { id: match[1]!, attempt: Number(match[2]) }
}

const idRule =
  <V>(check?: (record: StateRecord<V>, value: V) => string | undefined) =>
  (record: StateRecord<V>): string | undefined => {
    if (!JOB_ID_PATTERN.test(subjectOf(record.key))) return `${record.key} does not name a job id`
    return record.deleted || record.value === null ? undefined : check?.(record, record.value)
  }

/** `job/<id>`: the spec, written once by the node that took the submission. */
export const jobKind = defineKind<JobSpec>({
  name: JOB_KIND,
  schema: jobSpecSchema,
  writer: idRule<JobSpec>((record, spec) => {
    if (spec.id !== subjectOf(record.key)) return `${record.key} holds the spec of ${spec.id}`
    return spec.submittedBy === record.origin ? undefined : 'a job spec is signed by the node that took it'
  }),
})

/** `assign/<id>`: the coordinator's decision, fenced by its term. */
export const assignKind = defineKind<AssignValue>({
  name: ASSIGN_KIND,
  schema: assignValueSchema,
  writer: idRule<AssignValue>(),
  fenced: true,
})

/** `control/<id>`: a user's cancel or retry. */
export const controlKind = defineKind<ControlValue>({
  name: CONTROL_KIND,
  schema: controlValueSchema,
  writer: idRule<ControlValue>(),
})

/** `run/<id>/<attempt>`: what the node running an attempt reports; written only by that node. */
export const runKind = defineKind<RunValue>({
  name: RUN_KIND,
  schema: runValueSchema,
  writer: (record) => {
    const parsed = parseRunId(subjectOf(record.key))
    if (parsed === undefined) return `${record.key} is not run/<job id>/<attempt>`
    const value = record.value
    if (record.deleted || value === null) return undefined
    if (value.node !== record.origin) return `${record.origin} reported a run for ${value.node}`
    return value.attempt === parsed.attempt ? undefined : `${record.key} holds attempt ${value.attempt}`
  },
})

/** The kinds the jobs part writes. */
export const jobKinds = [jobKind, assignKind, runKind, controlKind]
