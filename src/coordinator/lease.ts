// The `lease/coordinator` record: who coordinates under which term, and the fence it implies for fenced kinds.
import { z } from 'zod'
import {
  compareStamps,
  defineKind,
  type FenceFactory,
  PEER_ID_PATTERN,
  type StateRecord,
  subjectOf,
} from '../state/index.js'
import { LEASE_HISTORY_TERMS } from './constants.js'

export const LEASE_KIND = 'lease'
/** The one lease: `lease/coordinator`. */
export const COORDINATOR_LEASE_ID = 'coordinator'
export const COORDINATOR_LEASE_KEY = `${LEASE_KIND}/${COORDINATOR_LEASE_ID}`

const uint = z.number().int().nonnegative()
const stampSchema = z.object({ wall: uint, counter: uint, node: z.string().regex(PEER_ID_PATTERN) })

/** One term before the current one: who held it and when it was claimed. */
const pastTermSchema = z.object({
  term: uint.min(1),
  holder: z.string().regex(PEER_ID_PATTERN),
  claim: stampSchema,
})
export type PastTerm = z.infer<typeof pastTermSchema>

export const leaseValueSchema = z.object({
  holder: z.string().regex(PEER_ID_PATTERN),
  holderName: z.string().min(1).max(253),
  /** Also the record's term, so that a claim under a newer term beats any renewal of an older one. */
  term: uint.min(1),
  /**
   * The HLC stamp taken just before the claim: the fence between terms. Fenced records written under an
   * older term are refused if stamped after it.
   */
  claim: stampSchema,
  /** Holder's wall time when the term began and when the lease ends unless renewed (for display). */
  since: uint,
  expiresAt: uint,
  /** Lease length observers should time out after, counted from when they see each renewal. */
  durationMs: uint.min(1).max(60_000),
  /** Set by a holder that stopped cleanly, so the others elect at once instead of waiting out the lease. */
  released: z.boolean().optional(),
  /** The terms before this one, oldest first (at most LEASE_HISTORY_TERMS): what the fence bounds old work by. */
  history: z.array(pastTermSchema).max(LEASE_HISTORY_TERMS).optional(),
})
export type LeaseValue = z.infer<typeof leaseValueSchema>

export const leaseKind = defineKind<LeaseValue>({
  name: LEASE_KIND,
  schema: leaseValueSchema,
  termed: true,
  writer: (record) => {
    if (subjectOf(record.key) !== COORDINATOR_LEASE_ID) return `${record.key} is not a known lease`
    const value = record.value
    if (record.deleted || value === null) return 'leases are never deleted'
    if (value.holder !== record.origin) return `${record.origin} claimed the lease for ${value.holder}`
    if (value.term !== record.term) return `lease term ${value.term} differs from record term ${record.term}`
    if (value.claim.node !== record.origin) return 'the claim stamp is not the holder’s'
    // The claim is the fence between terms: one dated after its own record would let an old term's work through.
    if (value.claim.wall > record.stamp.wall) return 'the claim stamp is later than the lease record'
    return historyViolation(value)
  },
})

/** Past terms must rise, and their claims come in order before this term's own. */
function historyViolation(value: LeaseValue): string | undefined {
  const terms = [...(value.history ?? []), value]
  for (let i = 1; i < terms.length; i++) {
    const [before, after] = [terms[i - 1]!, terms[i]!]
    if (before.term >= after.term) return 'the lease history does not rise term by term'
    if (compareStamps(before.claim, after.claim) > 0) return 'the lease history has a claim out of order'
  }
  return undefined
}

/** The history a claim of the next term carries: the lease it supersedes, appended, the oldest dropped. */
export function historyAfter(lease: LeaseValue | undefined): PastTerm[] {
  if (lease === undefined) return []
  const past: PastTerm = { term: lease.term, holder: lease.holder, claim: lease.claim }
  return [...(lease.history ?? []), past].slice(-LEASE_HISTORY_TERMS)
}

/** The kinds the coordinator writes. */
export const coordinatorKinds = [leaseKind]

/**
 * The fence as a pure function of the newest lease: a fenced record is accepted if its writer holds the
 * current term, or if it was stamped before the term after its own began (its coordinator was legitimate then;
 * a concurrent loser of a same-term race included). The term after its own is the first the lease's history
 * knows (the current one if none): a node that never saw a term in between still bounds old work by it.
 * Everything else is a stale coordinator's work.
 */
export function judgeFenced(
  record: StateRecord,
  lease: StateRecord<LeaseValue> | undefined,
): string | undefined {
  const current = lease?.value
  if (current === undefined || current === null) {
    return `${record.key} was written under term ${record.term}, and no coordinator lease is known yet`
  }
  if (record.term > current.term) {
    return `${record.key} was written under term ${record.term}, newer than the newest known lease (${current.term})`
  }
  if (record.term === current.term && record.origin === current.holder) return undefined
  // History terms are all older than the current one: none after the record's own means the current term.
  const next = current.history?.find((past) => past.term > record.term) ?? current
  if (compareStamps(record.stamp, next.claim) < 0) return undefined
  return `${record.key} was written under term ${record.term} by ${record.origin} after term ${next.term} began`
}

/** Whether a fenced record is ahead of the newest lease known: no lease yet, or one of an older term. */
export function awaitsLease(record: StateRecord, lease: StateRecord<LeaseValue> | undefined): boolean {
  const current = lease?.value
  return current === undefined || current === null || record.term > current.term
}

/** The fence for the state: fenced records are judged against the newest lease the state holds. */
export const leaseFence: FenceFactory = (records) => {
  const leases = records.kind(leaseKind)
  return {
    judge: (record) => judgeFenced(record, leases.get(COORDINATOR_LEASE_ID)),
    awaitsLease: (record) => awaitsLease(record, leases.get(COORDINATOR_LEASE_ID)),
  }
}
