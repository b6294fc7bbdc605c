// Replicated records and their last-writer-wins order; merge is the max of a total order, hence a semilattice.
import { compareStamps, type Stamp } from './hlc.js'

/**
 * One replicated record. Each key has one writer role (see DESIGN.md); the record's origin signs `body`,
 * and `body` is what travels and is stored, so relays never re-encode what someone else signed.
 */
export interface StateRecord<V = unknown> {
  key: string
  /** The value; `null` for a tombstone. */
  value: V | null
  stamp: Stamp
  /** Peer id of the writer; always equal to `stamp.node`. */
  origin: string
  /** A tombstone: the key was deleted at `stamp`. */
  deleted: boolean
  /**
   * Fencing term (0 when the kind has none). Orders before the stamp, so a write made under a newer term
   * beats any write made under an older one, whatever the clocks say.
   */
  term: number
  /** The exact JSON the origin signed. */
  body: string
  /** Base64 Ed25519 signature of the body by the origin. */
  sig: string
}

/** The ordering part of a record: `[term, wall, counter, node]`. */
export type Version = readonly [term: number, wall: number, counter: number, node: string]

export function versionOf(record: StateRecord): Version {
  return [record.term, record.stamp.wall, record.stamp.counter, record.stamp.node]
}

export function compareVersions(a: Version, b: Version): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1
  return compareStamps({ wall: a[1], counter: a[2], node: a[3] }, { wall: b[1], counter: b[2], node: b[3] })
}

/**
 * Total order on records of one key: term, then stamp, then the signed body as a last resort, so that even
 * two different bodies under one stamp (only a broken writer makes those) merge the same way everywhere.
 */
export function compareRecords(a: StateRecord, b: StateRecord): number {
  if (a.term !== b.term) return a.term < b.term ? -1 : 1
  const byStamp = compareStamps(a.stamp, b.stamp)
  if (byStamp !== 0) return byStamp
  if (a.body === b.body) return 0
  return a.body < b.body ? -1 : 1
}

/** Last-writer-wins merge: commutative, associative and idempotent (see test/state/merge-laws.test.ts). */
export function mergeRecords(a: StateRecord, b: StateRecord): StateRecord {
  return compareRecords(a, b) >= 0 ? a : b
}

/** The part of a key before the first slash names its kind (`node/12D3…` is a `node` record). */
export function kindOf(key: string): string {
  const slash = key.indexOf('/')
  return slash < 0 ? key : key.slice(0, slash)
}

/** The part of a key after its kind. */
export function subjectOf(key: string): string {
  const slash = key.indexOf('/')
  return slash < 0 ? '' : key.slice(slash + 1)
}
