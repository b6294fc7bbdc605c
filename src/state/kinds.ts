// The registry of record kinds: each part registers the kinds it writes, with a value schema and a writer rule.
import type { z } from 'zod'
import { type StateRecord, subjectOf } from './record.js'

/**
 * Who may write a record of this kind.
 * - `key-owner`: only the peer named in the key (`node/<peerId>` is written only by that peer);
 * - `any`: any mesh member (job specs, lease claims);
 * - a function for rules that need the record itself (it returns a reason to refuse, or undefined).
 */
export type WriterRule = 'key-owner' | 'any' | ((record: StateRecord) => string | undefined)

export interface RecordKind<V = unknown> {
  /** The key prefix before the slash, such as `node`. */
  name: string
  /** Schema of the value; tombstones skip it. */
  schema: z.ZodType<V>
  writer: WriterRule
  /**
   * Written by the coordinator under its term (a fencing token): every record must carry a term, and the
   * state's fence (see `ReplicatedState.setFence`) refuses records from a coordinator whose term is over.
   */
  fenced?: boolean
}

/**
 * Judges records of fenced kinds against the newest coordinator term this node knows. Must be a pure
 * function of the record and that term's lease, so that every node that knows the lease judges alike.
 */
export interface Fence {
  /** Why this record is refused (it comes from a coordinator whose term is over), or undefined. */
  judge(record: StateRecord): string | undefined
}

export class KindRegistry {
  private readonly kinds = new Map<string, RecordKind>()

  register<V>(kind: RecordKind<V>): void {
    if (this.kinds.has(kind.name)) throw new TypeError(`record kind "${kind.name}" is already registered`)
    this.kinds.set(kind.name, kind as RecordKind)
  }

  get(name: string): RecordKind | undefined {
    return this.kinds.get(name)
  }

  has(name: string): boolean {
    return this.kinds.has(name)
  }

  names(): string[] {
    return [...this.kinds.keys()]
  }
}

/** Why a record breaks its kind's writer rule, or undefined if it keeps it. */
export function writerViolation(kind: RecordKind, record: StateRecord): string | undefined {
  if (kind.writer === 'any') return undefined
  if (kind.writer === 'key-owner') {
    return subjectOf(record.key) === record.origin
      ? undefined
      : `${record.key} may only be written by its subject`
  }
  return kind.writer(record)
}
