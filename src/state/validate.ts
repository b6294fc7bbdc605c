// Validation of records received from the network: every check, in order, with the reason a record is dropped.
import { type Fence, type KindRegistry, writerViolation } from './kinds.js'
import type { StateRecord } from './record.js'
import type { RecordVerifier } from './signer.js'
import { decodeWireRecord } from './wire.js'

/** Why a received record (or message) was dropped; these are the `reason` labels of the drop counter. */
export type DropReason =
  | 'decode'
  | 'oversize'
  | 'range'
  | 'rate'
  | 'schema'
  | 'unknown-kind'
  | 'writer'
  | 'signature'
  | 'skew'
  | 'stale-tombstone'
  | 'stale-term'
  | 'unknown-term'

export const DROP_REASONS: readonly DropReason[] = [
  'decode',
  'oversize',
  'range',
  'rate',
  'schema',
  'unknown-kind',
  'writer',
  'signature',
  'skew',
  'stale-tombstone',
  'stale-term',
  'unknown-term',
]

export interface ValidationContext {
  kinds: KindRegistry
  verifier: RecordVerifier
  /** Our physical wall clock, read once per message. */
  now: number
  maxSkewMs: number
  tombstoneTtlMs: number
  /** Judges records of fenced kinds; without one, they are judged by their writer rule alone. */
  fence?: Fence
  /**
   * For gossip: the peer that signed the gossip message. Gossip carries only its publisher's own writes,
   * so each record's origin must be this peer. Its own signature is checked all the same: a record is
   * stored and relayed by sync with that signature, so one that only gossip accepted would be refused by
   * every node that got it by sync, and views would diverge.
   */
  gossipSigner?: string
}

/** Why one record was refused, and by whose writing. */
export interface RecordDrop {
  ok: false
  reason: DropReason
  detail: string
  origin?: string
}

export type ValidationResult = { ok: true; record: StateRecord } | RecordDrop

function drop(reason: DropReason, detail: string, origin?: string): ValidationResult {
  return origin === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, origin }
}

export function validateRecord(input: unknown, ctx: ValidationContext): ValidationResult {
  const decoded = decodeWireRecord(input)
  if (typeof decoded === 'string') return undecodable(decoded)
  return judgeRecord(decoded, ctx)
}

/** The drop of a wire record that did not decode, for the reason its decoder gave. */
export function undecodable(reason: DropReason): RecordDrop {
  return {
    ok: false,
    reason,
    detail: `record failed to ${reason === 'decode' ? 'parse' : 'validate'} (${reason})`,
  }
}

/**
 * Judges a decoded record: kind (and whether it may carry a term), value schema, writer rule, signature, clock
 * skew, tombstone age, fence. Counters and terms past their bounds were refused when it was decoded (`range`).
 * The schema comes before the writer rule: writer rules read the value, and may trust its shape.
 */
export function judgeRecord(record: StateRecord, ctx: ValidationContext): ValidationResult {
  const kind = ctx.kinds.of(record.key)
  if (kind === undefined) return drop('unknown-kind', `unknown record kind in ${record.key}`, record.origin)
  if (record.term !== 0 && kind.fenced !== true && kind.termed !== true)
    return drop('schema', `${record.key} carries a term its kind has none of`, record.origin)

  if (!record.deleted) {
    const value = kind.schema.safeParse(record.value)
    if (!value.success) return drop('schema', `value of ${record.key} does not match its kind`, record.origin)
    record.value = value.data
  }

  const violation = writerViolation(kind, record)
  if (violation !== undefined) return drop('writer', violation, record.origin)
  if (ctx.gossipSigner !== undefined && ctx.gossipSigner !== record.origin) {
    return drop(
      'writer',
      `${record.key} from ${record.origin} was published by ${ctx.gossipSigner}`,
      record.origin,
    )
  }

  if (!ctx.verifier.verify(record.origin, record.body, record.sig)) {
    return drop('signature', `bad signature on ${record.key}`, record.origin)
  }

  const aheadMs = record.stamp.wall - ctx.now
  if (aheadMs > ctx.maxSkewMs) {
    return drop(
      'skew',
      `${record.key} is stamped ${(aheadMs / 1000).toFixed(1)} s ahead of our clock`,
      record.origin,
    )
  }
  if (record.deleted && ctx.now - record.stamp.wall > ctx.tombstoneTtlMs) {
    return drop('stale-tombstone', `tombstone for ${record.key} is past its lifetime`, record.origin)
  }
  if (kind.fenced === true) {
    const refusal = record.term < 1 ? `${record.key} carries no term` : ctx.fence?.judge(record)
    if (refusal === undefined) return { ok: true, record }
    // A term no lease is known of yet may be the next one: its lease can be a message behind (see AwaitingLease).
    const ahead = record.term >= 1 && ctx.fence?.awaitsLease(record) === true
    return drop(ahead ? 'unknown-term' : 'stale-term', refusal, record.origin)
  }
  return { ok: true, record }
}
