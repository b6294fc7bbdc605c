// The replicated state: local writes (persist, then publish), remote merges, the fence, and watches by kind.
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { InvalidRecordError, RecordTooLargeError, StaleTermError, UnknownKindError } from '../errors.js'
import { partLogger } from '../logger.js'
import type { Mesh } from '../mesh/index.js'
import { AwaitingLease } from './awaiting-lease.js'
import {
  AWAITING_LEASE_MAX_BYTES,
  AWAITING_LEASE_MAX_RECORDS,
  AWAITING_LEASE_MS,
  MAX_CLOCK_SKEW_MS,
  MAX_RECORD_BYTES,
  TOMBSTONE_GC_INTERVAL_MS,
  TOMBSTONE_TTL_MS,
} from './constants.js'
import { StateGossip } from './gossip.js'
import { HybridLogicalClock, type Stamp, systemClock, type WallClock } from './hlc.js'
import { type FenceFactory, KindHandle, type KindSource } from './kind-handle.js'
import { type AnyRecordKind, type Fence, KindRegistry, type RecordKind } from './kinds.js'
import { loadRecords } from './load.js'
import { createStateMetrics, type StateMetrics } from './metrics.js'
import { OverlaySource } from './overlay-source.js'
import { compareRecords, kindOf, type StateRecord, subjectOf } from './record.js'
import { RecordIndex } from './record-index.js'
import { createRecordSigner, type RecordSigner, RecordVerifier } from './signer.js'
import type { RecordStore } from './store.js'
import { SyncService } from './sync.js'
import type {
  ChangeSource,
  KindBackend,
  LocalWrite,
  RecordChange,
  RecordWatcher,
  Replica,
  ValidationOptions,
  WriteOptions,
  WriteResult,
} from './types.js'
import type { ValidationContext } from './validate.js'
import { encodeRecord, KEY_PATTERN } from './wire.js'

export interface ReplicatedStateInit {
  /** Every record kind this state holds (each part exports its own); records of other kinds are refused. */
  kinds: readonly AnyRecordKind[]
  /** Builds the judge of fenced kinds from the state's records (the coordinator's lease fence). */
  fence?: FenceFactory
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

export class ReplicatedState implements KindBackend, KindSource, Replica {
  readonly kinds: KindRegistry
  readonly peerId: string
  private readonly index = new RecordIndex()
  readonly digest = this.index.digest
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
  private readonly fence: Fence | undefined
  private readonly fenceFactory: FenceFactory | undefined
  private readonly watchers = new Map<string, Set<RecordWatcher>>()
  private readonly everyWatcher = new Set<RecordWatcher>()
  private gcTimer: NodeJS.Timeout | undefined
  /** Gossiped fenced records whose term no known lease has yet. */
  private readonly awaitingLease = new AwaitingLease({
    holdMs: AWAITING_LEASE_MS,
    maxRecords: AWAITING_LEASE_MAX_RECORDS,
    maxBytes: AWAITING_LEASE_MAX_BYTES,
  })
  private awaitingTimer: NodeJS.Timeout | undefined
  private started = false

  constructor(
    private readonly components: ReplicatedStateComponents,
    init: ReplicatedStateInit,
  ) {
    const { mesh } = components
    this.kinds = new KindRegistry(init.kinds)
    this.peerId = mesh.peerId
    this.clock = init.clock ?? systemClock
    this.hlc = new HybridLogicalClock(mesh.peerId, this.clock)
    this.signer = createRecordSigner(mesh.peerId, mesh.privateKey)
    this.maxClockSkewMs = init.maxClockSkewMs ?? MAX_CLOCK_SKEW_MS
    this.tombstoneTtlMs = init.tombstoneTtlMs ?? TOMBSTONE_TTL_MS
    this.tombstoneGcIntervalMs = init.tombstoneGcIntervalMs ?? TOMBSTONE_GC_INTERVAL_MS
    this.fenceFactory = init.fence
    this.fence = init.fence?.(this)
    this.log = partLogger(components.logger, 'state')
    this.metrics = createStateMetrics(
      components.metrics,
      () => this.index.countByKind(),
      () => this.awaitingLease.size,
    )
    this.gossip = new StateGossip(mesh, this, this.metrics, partLogger(components.logger, 'state:gossip'))
    this.sync = new SyncService(mesh, this, this.metrics, partLogger(components.logger, 'state:sync'), {
      intervalMs: init.syncIntervalMs,
    })
  }

  /** The typed handle of one of the state's kinds. */
  kind<V>(kind: RecordKind<V>): KindHandle<V> {
    if (this.kinds.get(kind.name) !== kind) {
      throw new TypeError(`record kind "${kind.name}" is not one this state was built with`)
    }
    return new KindHandle(this, kind)
  }

  /** A fresh HLC stamp, ordered after everything this node has written or accepted. */
  clockNow(): Stamp {
    return this.hlc.now()
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
    clearTimeout(this.awaitingTimer)
    this.awaitingTimer = undefined
    this.sync.stop()
    await this.gossip.stop()
  }

  get(key: string): StateRecord | undefined {
    return this.index.get(key)
  }

  /** Live (not deleted) records of one kind. */
  list(kind: string): StateRecord[] {
    return this.index.list(kind)
  }

  /** Every record held, tombstones included. */
  all(): IterableIterator<StateRecord> {
    return this.index.all()
  }

  size(): number {
    return this.index.size()
  }

  /** Keys held in one digest bucket, for sync. */
  keysInBucket(bucket: number): ReadonlySet<string> {
    return this.index.keysInBucket(bucket)
  }

  /** Watches changes of one kind (kind handles use this; see `KindHandle.watch`). */
  watchKind(kind: string, watcher: RecordWatcher): () => void {
    let set = this.watchers.get(kind)
    if (set === undefined) {
      set = new Set()
      this.watchers.set(kind, set)
    }
    set.add(watcher)
    return () => set.delete(watcher)
  }

  /** Watches every change of every kind: for the raw record stream of the events API and for tests. */
  watchAll(watcher: RecordWatcher): () => void {
    this.everyWatcher.add(watcher)
    return () => this.everyWatcher.delete(watcher)
  }

  async put(key: string, value: unknown, options: WriteOptions = {}): Promise<WriteResult> {
    const [result] = await this.write([{ key, value, term: options.term }])
    return result!
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
      this.index.set(record, previous)
      results.push({ record, applied: true })
      changes.push(changeOf(record, previous, 'local'))
    }
    if (changes.length === 0) return results
    await this.persist(changes)
    this.gossip.publish(changes.map((change) => change.record!))
    this.announce(changes)
    return results
  }

  /**
   * Re-judges every record of a fenced kind, after the fence learned of a newer term: records written
   * under a term that had already ended are removed here as they are refused everywhere else; a peer that
   * still holds the version they replaced gives it back at the next sync. Returns how many were removed.
   */
  async refence(): Promise<number> {
    const fence = this.fence
    if (fence === undefined) return 0
    await this.releaseAwaiting(fence)
    const refused: StateRecord[] = []
    for (const name of this.kinds.names()) {
      if (this.kinds.get(name)?.fenced !== true) continue
      for (const record of this.index.list(name)) if (fence.judge(record) !== undefined) refused.push(record)
    }
    if (refused.length === 0) return 0
    for (const record of refused) this.index.set(undefined, record)
    await this.components.store.remove(refused.map((record) => record.key))
    this.metrics.recordsDropped.inc({ reason: 'stale-term', source: 'refence' }, refused.length)
    this.announce(refused.map((record) => changeOf(undefined, record, 'fence')))
    this.log.warn(
      { count: refused.length, keys: refused.slice(0, 8).map((record) => record.key) },
      'removed records written under a coordinator term that had already ended',
    )
    return refused.length
  }

  /**
   * Holds gossiped records of a fenced kind whose term is newer than any lease this node knows: within one
   * gossipsub RPC every message is validated before any is delivered, so the lease that makes them valid can
   * arrive just behind them. They are judged again when a newer lease arrives (refence), or dropped after
   * AWAITING_LEASE_MS; anti-entropy brings them with their lease then.
   */
  holdForLease(records: readonly StateRecord[], from: string): void {
    let dropped = 0
    for (const record of records) dropped += this.awaitingLease.hold(record, from)
    this.metrics.recordsDropped.inc({ reason: 'unknown-term', source: 'awaiting' }, dropped)
    this.scheduleAwaitingExpiry()
  }

  private scheduleAwaitingExpiry(): void {
    const due = this.awaitingLease.nextExpiry()
    if (this.awaitingTimer !== undefined || due === undefined) return
    this.awaitingTimer = setTimeout(
      () => {
        this.awaitingTimer = undefined
        const expired = this.awaitingLease.expire()
        this.metrics.recordsDropped.inc({ reason: 'unknown-term', source: 'awaiting' }, expired)
        this.scheduleAwaitingExpiry()
      },
      Math.max(0, due - performance.now()) + 1,
    )
    this.awaitingTimer.unref()
  }

  /** Merges the held records a newer lease now accepts; drops those it refuses; keeps those still ahead of it. */
  private async releaseAwaiting(fence: Fence): Promise<void> {
    if (this.awaitingLease.size === 0) return
    const { accepted, refused } = this.awaitingLease.release((record) => {
      if (fence.judge(record) === undefined) return 'accept'
      return fence.awaitsLease(record) ? 'wait' : 'refuse'
    })
    this.metrics.recordsDropped.inc({ reason: 'stale-term', source: 'awaiting' }, refused)
    const bySender = new Map<string, StateRecord[]>()
    for (const { record, from } of accepted) {
      const records = bySender.get(from) ?? []
      records.push(record)
      bySender.set(from, records)
    }
    for (const [from, records] of bySender) await this.applyRemote(records, 'gossip', from)
  }

  private encodeLocal(write: LocalWrite): StateRecord {
    if (!KEY_PATTERN.test(write.key)) throw new InvalidRecordError(`"${write.key}" is not a valid record key`)
    const kind = this.kinds.of(write.key)
    if (kind === undefined)
      throw new UnknownKindError(`this state holds no record kind "${kindOf(write.key)}"`)
    if ((write.term ?? 0) !== 0 && kind.fenced !== true && kind.termed !== true)
      throw new InvalidRecordError(`records of kind "${kind.name}" carry no term`)
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
  validationContext(options: ValidationOptions = {}): ValidationContext {
    const { alongside, ...rest } = options
    const fence =
      alongside !== undefined && alongside.length > 0 && this.fenceFactory !== undefined
        ? this.fenceFactory(new OverlaySource(this, alongside))
        : this.fence
    return {
      kinds: this.kinds,
      verifier: this.verifier,
      now: this.clock.now(),
      maxSkewMs: this.maxClockSkewMs,
      tombstoneTtlMs: this.tombstoneTtlMs,
      fence,
      ...rest,
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
      this.index.set(record, previous)
      changes.push(changeOf(record, previous, source, from))
    }
    if (changes.length === 0) return 0
    await this.persist(changes)
    this.announce(changes)
    return changes.length
  }

  private async persist(changes: readonly RecordChange[]): Promise<void> {
    try {
      await this.components.store.write(changes.map((change) => change.record!))
    } catch (err) {
      // Undo what is still ours in memory, so memory never holds what the disk does not.
      for (const change of changes) {
        if (this.get(change.record!.key) === change.record) this.index.set(change.previous, change.record)
      }
      throw err
    }
  }

  /** Tells the watchers of each change's kind, then those of every kind. */
  private announce(changes: readonly RecordChange[]): void {
    for (const change of changes) {
      const key = (change.record ?? change.previous)!.key
      const watchers = this.watchers.get(kindOf(key))
      if (watchers !== undefined) for (const watcher of watchers) watcher(change)
      for (const watcher of this.everyWatcher) watcher(change)
    }
  }

  private async load(): Promise<void> {
    const { loaded, skipped } = await loadRecords(this.components.store, {
      kinds: this.kinds,
      observe: (record) => {
        // Our clock must order after everything we ever stored, even if the wall clock went backwards.
        this.hlc.observe(record.stamp)
        const current = this.get(record.key)
        if (current === undefined || compareRecords(current, record) < 0) this.index.set(record, current)
      },
      quarantined: (key, reason) => {
        this.metrics.quarantined.inc()
        this.log.warn({ key, reason }, 'corrupt store entry moved to quarantine')
      },
    })
    this.log.info({ loaded }, 'records loaded')
    if (Object.keys(skipped).length > 0) {
      this.log.warn(
        { skipped },
        'stored records of kinds this daemon does not hold were kept on disk and not loaded (job/assign/run are the per-job records of daemons before batched job records: those jobs are not shown or run again; resubmit them)',
      )
    }
  }

  private async collectTombstones(): Promise<void> {
    const cutoff = this.clock.now() - this.tombstoneTtlMs
    const expired: StateRecord[] = []
    for (const record of this.all()) if (record.deleted && record.stamp.wall < cutoff) expired.push(record)
    if (expired.length === 0) return
    for (const record of expired) this.index.set(undefined, record)
    await this.components.store.remove(expired.map((record) => record.key))
    this.log.info({ count: expired.length }, 'collected expired tombstones')
  }
}

function changeOf(
  record: StateRecord | undefined,
  previous: StateRecord | undefined,
  source: ChangeSource,
  from?: string,
): RecordChange {
  const key = (record ?? previous)!.key
  const change: RecordChange = {
    id: subjectOf(key),
    record,
    previous,
    value: record === undefined || record.deleted ? undefined : record.value,
    source,
  }
  if (from !== undefined) change.from = from
  return change
}
