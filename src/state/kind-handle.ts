// A typed handle on one record kind: keys by id, typed reads and writes, and one watch for every change.
import type { Fence, RecordKind } from './kinds.js'
import type { StateRecord } from './record.js'
import type { KindBackend, LocalWrite, RecordWatcher, WriteOptions, WriteResult } from './types.js'

export class KindHandle<V> {
  private readonly prefix: string

  constructor(
    private readonly backend: KindBackend,
    readonly kind: RecordKind<V>,
  ) {
    this.prefix = `${kind.name}/`
  }

  /** The record key of a subject: `<kind>/<id>`. */
  key(id: string): string {
    return this.prefix + id
  }

  /** The subject of one of this kind's keys. */
  idOf(key: string): string {
    return key.slice(this.prefix.length)
  }

  /** The record held for `id`, tombstones included. */
  get(id: string): StateRecord<V> | undefined {
    return this.backend.get(this.prefix + id) as StateRecord<V> | undefined
  }

  /** The live value for `id`: undefined if there is none or it was deleted. */
  value(id: string): V | undefined {
    const record = this.get(id)
    return record === undefined || record.deleted ? undefined : (record.value as V)
  }

  /** Live records of this kind. */
  list(): Array<StateRecord<V>> {
    return this.backend.list(this.kind.name) as Array<StateRecord<V>>
  }

  /** Live values of this kind, with their ids. */
  *entries(): IterableIterator<[id: string, value: V]> {
    for (const record of this.list()) yield [this.idOf(record.key), record.value as V]
  }

  /** A write of `value` under `id`, for `ReplicatedState.write` (several kinds in one batch). */
  entry(id: string, value: V, options: WriteOptions = {}): LocalWrite {
    return { key: this.prefix + id, value, term: options.term }
  }

  /** A deletion of `id`, for `ReplicatedState.write`. */
  removal(id: string, options: WriteOptions = {}): LocalWrite {
    return { key: this.prefix + id, value: null, deleted: true, term: options.term }
  }

  async put(id: string, value: V, options: WriteOptions = {}): Promise<WriteResult<V>> {
    const [result] = await this.backend.write([this.entry(id, value, options)])
    return result as WriteResult<V>
  }

  async remove(id: string, options: WriteOptions = {}): Promise<WriteResult<V>> {
    const [result] = await this.backend.write([this.removal(id, options)])
    return result as WriteResult<V>
  }

  /** Writes several values of this kind in one batch (one store write, one gossip message). */
  async putMany(
    values: ReadonlyArray<readonly [id: string, value: V]>,
    options: WriteOptions = {},
  ): Promise<void> {
    await this.backend.write(values.map(([id, value]) => this.entry(id, value, options)))
  }

  /**
   * Calls `watcher` for every change to a record of this kind once it is durable: new versions,
   * tombstones, and withdrawals by the fence. Returns the function that stops watching.
   */
  watch(watcher: RecordWatcher<V>): () => void {
    return this.backend.watchKind(this.kind.name, watcher as RecordWatcher)
  }
}

/** Where typed handles come from (the state): what a fence is built with. */
export interface KindSource {
  kind<V>(kind: RecordKind<V>): KindHandle<V>
}

/** Builds the fence from the state's own records: the daemon hands the coordinator's to the state. */
export type FenceFactory = (records: KindSource) => Fence
