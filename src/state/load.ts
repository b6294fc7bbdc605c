// Loading the store at start: every entry decoded and checked against its kind; corrupt ones quarantined.
import type { KindRegistry } from './kinds.js'
import { kindOf, type StateRecord } from './record.js'
import type { RecordStore } from './store.js'
import { decodeWireRecord } from './wire.js'

export interface LoadHandlers {
  kinds: KindRegistry
  /** A good record (its value checked against its kind). */
  observe(record: StateRecord): void
  /** A corrupt entry, already moved to the quarantine. */
  quarantined(key: string, reason: string): void
}

/** Reads every stored entry; returns how many loaded, and how many of each kind this state does not hold. */
export async function loadRecords(
  store: RecordStore,
  handlers: LoadHandlers,
): Promise<{ loaded: number; skipped: Record<string, number> }> {
  let loaded = 0
  const skipped: Record<string, number> = {}
  for await (const [key, raw] of store.entries()) {
    const result = decodeEntry(key, raw, handlers.kinds)
    if (typeof result !== 'string') {
      handlers.observe(result)
      loaded++
    } else if (result === UNKNOWN_KIND) {
      // Written by another version of shoal (older per-job records, a newer kind): kept on disk, not loaded.
      const kind = kindOf(key)
      skipped[kind] = (skipped[kind] ?? 0) + 1
    } else {
      await store.quarantine(key, raw, result)
      handlers.quarantined(key, result)
    }
  }
  return { loaded, skipped }
}

const UNKNOWN_KIND = 'unknown-kind'

/** The record stored under `key`, or why it cannot be loaded. */
function decodeEntry(key: string, raw: string, kinds: KindRegistry): StateRecord | string {
  let wire: unknown
  try {
    wire = JSON.parse(raw)
  } catch (err) {
    return `not JSON (${(err as Error).message})`
  }
  const record = decodeWireRecord(wire)
  if (typeof record === 'string') return record
  if (record.key !== key) return 'stored under another key'
  const kind = kinds.of(key)
  if (kind === undefined) return UNKNOWN_KIND
  if (!record.deleted) {
    const value = kind.schema.safeParse(record.value)
    if (!value.success) return 'value does not match its kind'
    record.value = value.data
  }
  return record
}
