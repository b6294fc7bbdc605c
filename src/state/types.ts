// The state's shared types: changes, writes, and the narrow faces its gossip, sync and kind handles use.

import type { SyncDigest } from './digest.js'
import type { Stamp } from './hlc.js'
import type { KindRegistry } from './kinds.js'
import type { StateRecord } from './record.js'
import type { ValidationContext } from './validate.js'

/** How a change reached this node; `fence`: withdrawn because its coordinator's term was over. */
export type ChangeSource = 'local' | 'gossip' | 'sync' | 'fence'

/** A change to one record: a new version (maybe a tombstone), or a withdrawal with nothing in its place. */
export interface RecordChange<V = unknown> {
  /** The record's subject: the key after `<kind>/`. */
  id: string
  /** The record now held; undefined when the old one was withdrawn (source `fence`). */
  record: StateRecord<V> | undefined
  /** The record it replaced or withdrew, if any. */
  previous: StateRecord<V> | undefined
  /** The live value now: undefined for a tombstone or a withdrawal. */
  value: V | undefined
  source: ChangeSource
  /** The peer it came from, for gossip and sync. */
  from?: string
}

export type RecordWatcher<V = unknown> = (change: RecordChange<V>) => void

export interface WriteOptions {
  /** Fencing term the write is made under (see docs/coordinator.md). */
  term?: number
}

export interface WriteResult<V = unknown> {
  record: StateRecord<V>
  /** False when the write lost to a record already held (an older term); `record` is then the winner. */
  applied: boolean
}

export interface LocalWrite {
  key: string
  value: unknown
  term?: number
  deleted?: boolean
}

/** What a kind handle needs of the state. */
export interface KindBackend {
  get(key: string): StateRecord | undefined
  list(kind: string): StateRecord[]
  write(writes: readonly LocalWrite[]): Promise<WriteResult[]>
  watchKind(kind: string, watcher: RecordWatcher): () => void
  clockNow(): Stamp
}

export interface ValidationOptions {
  /** For gossip: the peer that signed the message (see ValidationContext). */
  gossipSigner?: string
  /**
   * Records already judged valid that arrived with the ones to judge (the rest of one gossip message): the
   * fence sees them as if merged, so work written under a new term is judged after the lease that began it.
   */
  alongside?: readonly StateRecord[]
}

/** What gossip and sync need of the state: its records, its digest, how to judge and merge what arrives. */
export interface Replica {
  readonly peerId: string
  readonly kinds: KindRegistry
  readonly digest: SyncDigest
  get(key: string): StateRecord | undefined
  keysInBucket(bucket: number): ReadonlySet<string>
  validationContext(options?: ValidationOptions): ValidationContext
  applyRemote(records: readonly StateRecord[], source: 'gossip' | 'sync', from: string): Promise<number>
  /** Holds gossiped fenced records whose term no known lease has yet, until one arrives or a short while passes. */
  holdForLease(records: readonly StateRecord[], from: string): void
}
