// Record kinds: each part declares the kinds it writes (value schema, writer rule, fencing); the state is built with them.
import type { z } from 'zod'
import { kindOf, type StateRecord, subjectOf } from './record.js'

/**
 * Who may write a record of this kind.
 * - `key-owner`: only the peer named in the key (`node/<peerId>` is written only by that peer);
 * - `any`: any mesh member (job specs, lease claims);
 * - a function for rules that need the record itself: it gets the record with its value already checked
 *   against the kind's schema (`null` for a tombstone) and returns a reason to refuse, or undefined.
 */
export type WriterRule<V> = 'key-owner' | 'any' | ((record: StateRecord<V>) => string | undefined)

export interface RecordKind<V = unknown> {
  /** The key prefix before the slash, such as `node`. */
  readonly name: string
  /** Schema of the value; tombstones skip it. */
  readonly schema: z.ZodType<V>
  readonly writer: WriterRule<V>
  /**
   * Written by the coordinator under its term (a fencing token): every record must carry a term, and the
   * state's fence refuses records from a coordinator whose term is over.
   */
  readonly fenced?: boolean
  /**
   * Records carry a term though no fence judges them (the lease: its term orders claims). Records of kinds
   * neither fenced nor termed must carry none: a term orders before the stamp, so a record with one would
   * outrank every later write of its key by its honest writer, for good.
   */
  readonly termed?: boolean
}

/** Declares a record kind (a typed constant a part exports and the daemon hands to the state). */
export function defineKind<V>(kind: RecordKind<V>): RecordKind<V> {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(kind.name)) throw new TypeError(`"${kind.name}" is not a kind name`)
  return Object.freeze({ ...kind })
}

/** Any kind, whatever its value type: what lists of kinds hold. */
// biome-ignore lint/suspicious/noExplicitAny: a list of kinds holds kinds of every value type
export type AnyRecordKind = RecordKind<any>

/**
 * Judges records of fenced kinds against the newest coordinator term this node knows. Must be a pure
 * function of the record and of records the state holds, so that every node that holds them judges alike.
 */
export interface Fence {
  /** Why this record is refused (it comes from a coordinator whose term is over), or undefined. */
  judge(record: StateRecord): string | undefined
  /**
   * Whether a record this fence refuses may yet be accepted: its term is newer than any lease this node knows,
   * so the lease that makes it valid may be on its way (refused as `unknown-term`, not `stale-term`).
   */
  awaitsLease(record: StateRecord): boolean
}

/** The kinds a state was built with, by name; fixed once built. */
export class KindRegistry {
  private readonly kinds = new Map<string, AnyRecordKind>()

  constructor(kinds: readonly AnyRecordKind[]) {
    for (const kind of kinds) {
      if (this.kinds.has(kind.name)) throw new TypeError(`record kind "${kind.name}" is listed twice`)
      this.kinds.set(kind.name, kind)
    }
  }

  get(name: string): AnyRecordKind | undefined {
    return this.kinds.get(name)
  }

  /** The kind of a key, if the state knows it. */
  of(key: string): AnyRecordKind | undefined {
    return this.kinds.get(kindOf(key))
  }

  /** Whether a key's kind is fenced: judged against the newest lease, after whatever arrived with it. */
  isFenced(key: string): boolean {
    return this.of(key)?.fenced === true
  }

  has(name: string): boolean {
    return this.kinds.has(name)
  }

  names(): string[] {
    return [...this.kinds.keys()]
  }
}

/** Why a record breaks its kind's writer rule, or undefined if it keeps it. Its value must be checked first. */
export function writerViolation<V>(kind: RecordKind<V>, record: StateRecord<V>): string | undefined {
  if (kind.writer === 'any') return undefined
  if (kind.writer === 'key-owner') {
    return subjectOf(record.key) === record.origin
      ? undefined
      : `${record.key} may only be written by its subject`
  }
  return kind.writer(record)
}
