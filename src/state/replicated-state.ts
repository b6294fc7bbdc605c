// The replicated state: records in memory and LevelDB, local writes (persist, then publish), remote merges.
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { InvalidRecordError, RecordTooLargeError, StaleTermError, UnknownKindError } from '../errors.js'
import { partLogger } from '../logger.js'
import type { Mesh } from '../mesh/index.js'
import {
  DIGEST_BUCKETS,
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_BYTES,
  TOMBSTONE_GC_INTERVAL_MS,
  TOMBSTONE_TTL_MS,
} from './constants.js'
import { bucketOf, SyncDigest } from './digest.js'
import { StateGossip } from './gossip.js'
import { HybridLogicalClock, type Stamp, systemClock, type WallClock } from './hlc.js'
import { type Fence, KindRegistry, type RecordKind } from './kinds.js'
import { createStateMetrics, type StateMetrics } from './metrics.js'
import { compareRecords, kindOf, type StateRecord, versionOf } from './record.js'
import { createRecordSigner, type RecordSigner, RecordVerifier } from './signer.js'
import type { RecordStore } from './store.js'
import { SyncService } from './sync.js'
import type { ValidationContext } from './validate.js'
import { decodeWireRecord, encodeRecord, KEY_PATTERN } from './wire.js'

export type ChangeSource = 'local' | 'gossip' | 'sync'

export interface RecordChange {
  record: StateRecord
  /** The record this one replaced, if any. */
  previous: StateRecord | undefined
  source: ChangeSource
  /** The peer it came from, for gossip and sync. */
  from?: string
}

export interface StateEvents {
  /** A record changed and the change is durable. */
  'record:changed': [change: RecordChange]
  /** A record was withdrawn with nothing in its place: it was written under a coordinator term already over. */
  'record:removed': [record: StateRecord]
}

export interface WriteOptions {
  /** Fencing term the write is made under (see DESIGN.md, Coordinator). */
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

export interface ReplicatedStateInit {
  /** @default MAX_CLOCK_SKEW_MS */
  maxClockSkewMs?: number
  /** @default SYNC_INTERVAL_MS */
  syncIntervalMs?: number
  /** @default TOMBSTONE_TTL_MS */
  tombstoneTtlMs?: number
  /** @default TOMBSTONE_GC_INTERVAL_MS */
  tombstoneGcIntervalMs?: number
  /** @default the system clock */
  clock?: WallClock
}

export interface ReplicatedStateComponents {
  mesh: Mesh
  store: RecordStore
  logger: Logger
  metrics: Registry
}

export class ReplicatedState extends EventEmitter<StateEvents> {
  readonly kinds = new KindRegistry()
  readonly peerId: string
  private readonly byKind = new Map<string, Map<string, StateRecord>>()
  private readonly bucketKeys: Array<Set<string>> = Array.from({ length: DIGEST_BUCKETS }, () => new Set())
  readonly digest = new SyncDigest()
  private readonly hlc: HybridLogicalClock
  private readonly signer: RecordSigner
  private readonly verifier = new RecordVerifier()
  private readonly log: Logger
  readonly metrics: StateMetrics
  private readonly gossip: StateGossip
  private readonly sync: SyncService
  private readonly clock: WallClock
  private readonly maxClockSkewMs: number
  private readonly tombstoneTtlMs: number
  private readonly tombstoneGcIntervalMs: number
  private gcTimer: NodeJS.Timeout | undefined
  private started = false
  private fence: Fence | undefined

  constructor(
    private readonly components: ReplicatedStateComponents,
    init: ReplicatedStateInit = {},
  ) {
    super()
    this.setMaxListeners(0)
    const { mesh } = components
    this.peerId = mesh.peerId
    this.clock = init.clock ?? systemClock
    this.hlc = new HybridLogicalClock(mesh.peerId, this.clock)
    this.signer = createRecordSigner(mesh.peerId, mesh.privateKey)
    this.maxClockSkewMs = init.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS
    this.tombstoneTtlMs = init.tombstoneTtlMs ?? TOMBSTONE_TTL_MS
    this.tombstoneGcIntervalMs = init.tombstoneGcIntervalMs ?? TOMBSTONE_GC_INTERVAL_MS
    this.log = partLogger(components.logger, 'state')
    this.metrics = createStateMetrics(components.metrics, () => this.countByKind())
    this.gossip = new StateGossip(mesh, this, this.metrics, partLogger(components.logger, 'state:gossip'))
    this.sync = new SyncService(mesh, this, this.metrics, partLogger(components.logger, 'state:sync'), {
      intervalMs: init.syncIntervalMs,
    })
  }

  /** Registers a record kind; parts do this before start() so that stored records of the kind load. */
  registerKind<V>(kind: RecordKind<V>): void {
    this.kinds.register(kind)
  }

  /** A fresh HLC stamp, ordered after everything this node has written or accepted. */
  clockNow(): Stamp {
    return this.hlc.now()
  }

  /** Installs the judge of fenced kinds (the coordinator does, before start()). */
  setFence(fence: Fence): void {
    this.fence = fence
  }

  async start(): Promise<void> {
    if (this.started) return
    await this.load()
    // The lease may have loaded after records it fences; judge them now that everything is in.
    await this.refence()
    await this.gossip.start()
    await this.sync.start()
    this.gcTimer = setInterval(() => {
      this.collectTombstones().catch((err: Error) =>
        this.log.error({ err: err.message }, 'tombstone collection failed'),
      )
    }, this.tombstoneGcIntervalMs)
    this.gcTimer.unref()
    this.started = true
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.gcTimer)
    this.sync.stop()
    await this.gossip.stop()
  }

  get(key: string): StateRecord | undefined {
    return this.byKind.get(kindOf(key))?.get(key)
  }

  /** Live (not deleted) records of one kind. */
  list(kind: string): StateRecord[] {
    const records = this.byKind.get(kind)
    if (records === undefined) return []
    return [...records.values()].filter((record) => !record.deleted)
  }

  /** Every record held, tombstones included. */
  all(): IterableIterator<StateRecord> {
    const kinds = this.byKind.values()
    return (function* () {
      for (const records of kinds) yield* records.values()
    })()
  }

  size(): number {
    let size = 0
    for (const records of this.byKind.values()) size += records.size
    return size
  }

  /** Keys held in one digest bucket, for sync. */
  keysInBucket(bucket: number): ReadonlySet<string> {
    return this.bucketKeys[bucket] ?? new Set()
  }

  async put<V>(key: string, value: V, options: WriteOptions = {}): Promise<WriteResult<V>> {
    const [result] = await this.write([{ key, value, term: options.term }])
    return result as WriteResult<V>
  }

  async remove(key: string, options: WriteOptions = {}): Promise<WriteResult> {
    const [result] = await this.write([{ key, value: null, deleted: true, term: options.term }])
    return result!
  }

  /**
   * Writes records as this node: stamps and signs them, merges, persists them all in one batch, then
   * publishes them. Resolves once they are durable; throws (and writes nothing) if any is invalid.
   */
  async write(writes: readonly LocalWrite[]): Promise<WriteResult[]> {
    const records = writes.map((write) => this.encodeLocal(write))
    const results: WriteResult[] = []
    const changes: RecordChange[] = []
    for (const record of records) {
      const previous = this.get(record.key)
      if (previous !== undefined && compareRecords(previous, record) >= 0) {
        results.push({ record: previous, applied: false })
        continue
      }
      this.setRecord(record, previous)
      results.push({ record, applied: true })
      changes.push({ record, previous, source: 'local' })
    }
    if (changes.length === 0) return results
    await this.persist(changes)
    this.gossip.publish(changes.map((change) => change.record))
    for (const change of changes) this.emit('record:changed', change)
    return results
  }

  /**
   * Re-judges every record of a fenced kind, after the fence learned of a newer term: records written
   * under a term that had already ended are removed here as they are refused everywhere else; a peer that
   * still holds the version they replaced gives it back at the next sync. Returns how many were removed.
   */
  async refence(): Promise<number> {
    if (this.fence === undefined) return 0
    const refused: StateRecord[] = []
    for (const [kindName, records] of this.byKind) {
      if (this.kinds.get(kindName)?.fenced !== true) continue
      for (const record of records.values()) if (this.fence.judge(record) !== undefined) refused.push(record)
    }
    if (refused.length === 0) return 0
    for (const record of refused) this.setRecord(undefined, record)
    await this.components.store.remove(refused.map((record) => record.key))
    this.metrics.recordsDropped.inc({ reason: 'stale-term', source: 'refence' }, refused.length)
    for (const record of refused) this.emit('record:removed', record)
    this.log.warn(
      { count: refused.length, keys: refused.slice(0, 8).map((record) => record.key) },
      'removed records written under a coordinator term that had already ended',
    )
    return refused.length
  }

  private encodeLocal(write: LocalWrite): StateRecord {
    if (!KEY_PATTERN.test(write.key)) throw new InvalidRecordError(`"${write.key}" is not a valid record key`)
    const kind = this.kinds.get(kindOf(write.key))
    if (kind === undefined) throw new UnknownKindError(`no record kind "${kindOf(write.key)}" is registered`)
    if (write.deleted !== true) {
      const parsed = kind.schema.safeParse(write.value)
      if (!parsed.success) {
        throw new InvalidRecordError(
          `value for ${write.key} is invalid: ${parsed.error.issues[0]?.message ?? ''}`,
        )
      }
    }
    const record = encodeRecord(this.signer, write.key, write.value, this.hlc.now(), {
      deleted: write.deleted,
      term: write.term,
    })
    if (kind.fenced === true) {
      const refusal =
        record.term < 1 ? `${write.key} must be written under a term` : this.fence?.judge(record)
      if (refusal !== undefined) throw new StaleTermError(refusal)
    }
    if (record.body.length > MAX_RECORD_BYTES) {
      throw new RecordTooLargeError(
        `${write.key} is ${record.body.length} bytes; the limit is ${MAX_RECORD_BYTES}`,
      )
    }
    return record
  }

  /** How received records are judged right now (our clock, our kinds). */
  validationContext(options: { gossipSigner?: string; verifySignature: boolean }): ValidationContext {
    return {
      kinds: this.kinds,
      verifier: this.verifier,
      now: this.clock.now(),
      maxSkewMs: this.maxClockSkewMs,
      tombstoneTtlMs: this.tombstoneTtlMs,
      fence: this.fence,
      ...options,
    }
  }

  /** Merges validated records from a peer; resolves once those that won are durable and announced. */
  async applyRemote(
    records: readonly StateRecord[],
    source: 'gossip' | 'sync',
    from: string,
  ): Promise<number> {
    const changes: RecordChange[] = []
    for (const record of records) {
      const previous = this.get(record.key)
      if (previous !== undefined && compareRecords(previous, record) >= 0) continue
      this.hlc.observe(record.stamp)
      this.setRecord(record, previous)
      changes.push({ record, previous, source, from })
    }
    if (changes.length === 0) return 0
    await this.persist(changes)
    for (const change of changes) this.emit('record:changed', change)
    return changes.length
  }

  private async persist(changes: readonly RecordChange[]): Promise<void> {
    try {
      await this.components.store.write(changes.map((change) => change.record))
    } catch (err) {
      // Undo what is still ours in memory, so memory never holds what the disk does not.
      for (const change of changes) {
        if (this.get(change.record.key) === change.record) this.setRecord(change.previous, change.record)
      }
      throw err
    }
  }

  /** Puts `record` in place of `previous` (either may be undefined), keeping the digest in step. */
  private setRecord(record: StateRecord | undefined, previous: StateRecord | undefined): void {
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

  private async load(): Promise<void> {
    const { store } = this.components
    let loaded = 0
    let skipped = 0
    for await (const [key, raw] of store.entries()) {
      const reason = this.loadEntry(key, raw)
      if (reason === undefined) {
        loaded++
      } else if (reason === 'unknown-kind') {
        // Written by a newer shoal, or by a part not running here: kept on disk, not loaded.
        skipped++
      } else {
        this.metrics.quarantined.inc()
        this.log.warn({ key, reason }, 'corrupt store entry moved to quarantine')
        await store.quarantine(key, raw, reason)
      }
    }
    this.log.info({ loaded, skipped }, 'records loaded')
  }

  private loadEntry(key: string, raw: string): string | undefined {
    let wire: unknown
    try {
      wire = JSON.parse(raw)
    } catch {
      return 'not JSON'
    }
    const record = decodeWireRecord(wire)
    if (typeof record === 'string') return record
    if (record.key !== key) return 'stored under another key'
    const kind = this.kinds.get(kindOf(key))
    if (kind === undefined) return 'unknown-kind'
    if (!record.deleted) {
      const value = kind.schema.safeParse(record.value)
      if (!value.success) return 'value does not match its kind'
      record.value = value.data
    }
    // Our clock must order after everything we ever stored, even if the wall clock went backwards.
    this.hlc.observe(record.stamp)
    const current = this.get(key)
    if (current === undefined || compareRecords(current, record) < 0) this.setRecord(record, current)
    return undefined
  }

  private async collectTombstones(): Promise<void> {
    const cutoff = this.clock.now() - this.tombstoneTtlMs
    const expired: StateRecord[] = []
    for (const record of this.all()) if (record.deleted && record.stamp.wall < cutoff) expired.push(record)
    if (expired.length === 0) return
    for (const record of expired) this.setRecord(undefined, record)
    await this.components.store.remove(expired.map((record) => record.key))
    this.log.info({ count: expired.length }, 'collected expired tombstones')
  }

  private countByKind(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const [kind, records] of this.byKind) counts.set(kind, records.size)
    return counts
  }
}
