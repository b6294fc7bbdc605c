// The records held in memory, by kind and by sync bucket, with the sync digest kept in step with every change.
import { DIGEST_BUCKETS } from './constants.js'
import { bucketOf, SyncDigest } from './digest.js'
import { kindOf, type StateRecord, versionOf } from './record.js'

export class RecordIndex {
  private readonly byKind = new Map<string, Map<string, StateRecord>>()
  private readonly bucketKeys: Array<Set<string>> = Array.from({ length: DIGEST_BUCKETS }, () => new Set())
  readonly digest = new SyncDigest()

  get(key: string): StateRecord | undefined {
    return this.byKind.get(kindOf(key))?.get(key)
  }

  /** Live (not deleted) records of one kind. */
  list(kind: string): StateRecord[] {
    const records = this.byKind.get(kind)
    if (records === undefined) return []
    const live: StateRecord[] = []
    for (const record of records.values()) if (!record.deleted) live.push(record)
    return live
  }

  /** Every record held, tombstones included. */
  *all(): IterableIterator<StateRecord> {
    for (const records of this.byKind.values()) yield* records.values()
  }

  size(): number {
    let size = 0
    for (const records of this.byKind.values()) size += records.size
    return size
  }

  countByKind(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const [kind, records] of this.byKind) counts.set(kind, records.size)
    return counts
  }

  /** Keys held in one digest bucket, for sync. */
  keysInBucket(bucket: number): ReadonlySet<string> {
    return this.bucketKeys[bucket] ?? new Set()
  }

  /** Puts `record` in place of `previous` (either may be undefined), keeping the digest in step. */
  set(record: StateRecord | undefined, previous: StateRecord | undefined): void {
    const key = (record ?? previous)?.key
    if (key === undefined) return
    const kind = kindOf(key)
    let records = this.byKind.get(kind)
    if (records === undefined) {
      records = new Map()
      this.byKind.set(kind, records)
    }
    if (previous !== undefined) this.digest.toggle(key, versionOf(previous))
    if (record === undefined) {
      records.delete(key)
      this.bucketKeys[bucketOf(key)]!.delete(key)
      return
    }
    records.set(key, record)
    this.bucketKeys[bucketOf(key)]!.add(key)
    this.digest.toggle(key, versionOf(record))
  }
}
