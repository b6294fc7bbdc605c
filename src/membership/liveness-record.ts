// The `liveness/<peerId>` record: which members one observer suspects or has declared dead, and at which incarnation.
import { z } from 'zod'
import { defineKind, PEER_ID_PATTERN, subjectOf } from '../state/index.js'
import { MAX_LIVENESS_ENTRIES } from './constants.js'

const uint = z.number().int().nonnegative()
const peerId = z.string().regex(PEER_ID_PATTERN)

const entries = <T extends z.ZodType>(entry: T) =>
  z
    .record(peerId, entry)
    .refine((map) => Object.keys(map).length <= MAX_LIVENESS_ENTRIES, `at most ${MAX_LIVENESS_ENTRIES} peers`)

export const livenessValueSchema = z.object({
  /** Members this observer's probes (direct and indirect) failed to reach, at the incarnation it knew. */
  suspects: entries(z.object({ i: uint })),
  /** Members whose suspicion ran out unrefuted: dead at that incarnation (`at`: when, ms since the epoch). */
  dead: entries(z.object({ i: uint, at: uint })),
})
export type LivenessValue = z.infer<typeof livenessValueSchema>

export const LIVENESS_KIND = 'liveness'

/**
 * `liveness/<observer>`: written only by that observer, and only when its opinions change (never while all is
 * well). Suspicions and deaths spread on the gossip every record takes; a node refutes one about itself by raising
 * its incarnation in its own node record. Deleted by the coordinator with its node's record, a day after it went.
 */
export const livenessKind = defineKind<LivenessValue>({
  name: LIVENESS_KIND,
  schema: livenessValueSchema,
  writer: (record) => {
    const observer = subjectOf(record.key)
    if (record.deleted || record.value === null)
      return PEER_ID_PATTERN.test(observer) ? undefined : `${record.key} names no peer`
    if (observer !== record.origin) return `${record.key} may only be written by its subject`
    if (observer in record.value.suspects || observer in record.value.dead)
      return 'an observer cannot suspect itself'
    return undefined
  },
})
