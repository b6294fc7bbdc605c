// The state with records validated but not yet merged laid over it: what a fence judges a message's work against.
import { KindHandle, type KindSource } from './kind-handle.js'
import type { RecordKind } from './kinds.js'
import { compareRecords, type StateRecord } from './record.js'
import type { KindBackend } from './types.js'

/**
 * Reads of a key give the newer of the state's record and the one laid over it; lists, writes and watches are
 * the state's own (a fence reads single records: the newest lease).
 */
export class OverlaySource implements KindSource {
  private readonly over = new Map<string, StateRecord>()
  private readonly backend: KindBackend

  constructor(state: KindBackend, records: readonly StateRecord[]) {
    for (const record of records) {
      const held = this.over.get(record.key)
      if (held === undefined || compareRecords(record, held) > 0) this.over.set(record.key, record)
    }
    this.backend = {
      get: (key) => {
        const mine = state.get(key)
        const laid = this.over.get(key)
        if (laid === undefined) return mine
        return mine === undefined || compareRecords(laid, mine) > 0 ? laid : mine
      },
      list: (kind) => state.list(kind),
      write: (writes) => state.write(writes),
      watchKind: (kind, watcher) => state.watchKind(kind, watcher),
      clockNow: () => state.clockNow(),
    }
  }

  kind<V>(kind: RecordKind<V>): KindHandle<V> {
    return new KindHandle(this.backend, kind)
  }
}
