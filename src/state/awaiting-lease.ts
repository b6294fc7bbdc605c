// Fenced records that arrived before the lease of their term: held a short, bounded while, judged again on a new lease.
import { compareRecords, type StateRecord } from './record.js'

export interface AwaitingLeaseLimits {
  holdMs: number
  maxRecords: number
  maxBytes: number
}

interface Held {
  record: StateRecord
  /** The peer that gossiped it. */
  from: string
  /** performance.now() past which it is dropped. */
  until: number
}

/** What a lease's arrival did to the held records: the ones now taken (with who sent them), and how many it refused. */
export interface Release {
  accepted: Array<{ record: StateRecord; from: string }>
  refused: number
}

/**
 * The newest held version of each key, oldest dropped first when a bound is reached. A record is only ever held
 * after every other check passed (signature, writer, schema, skew): all it lacks is the lease of its term.
 */
export class AwaitingLease {
  private readonly held = new Map<string, Held>()
  private bytes = 0

  constructor(
    private readonly limits: AwaitingLeaseLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.held.size
  }

  /** Holds a record; returns how many were dropped for room (the oldest past a bound). */
  hold(record: StateRecord, from: string): number {
    const previous = this.held.get(record.key)
    if (previous !== undefined) {
      if (compareRecords(previous.record, record) >= 0) return 0
      this.remove(record.key, previous)
    }
    this.held.set(record.key, { record, from, until: this.now() + this.limits.holdMs })
    this.bytes += record.body.length
    // Insertion order is age order: the first entries are the oldest.
    let dropped = 0
    for (const [key, entry] of this.held) {
      if (this.held.size <= this.limits.maxRecords && this.bytes <= this.limits.maxBytes) break
      this.remove(key, entry)
      dropped++
    }
    return dropped
  }

  /**
   * Judges every held record again: `accept` and `refuse` release it, `wait` keeps it (its term is still ahead
   * of the newest lease).
   */
  release(judge: (record: StateRecord) => 'accept' | 'wait' | 'refuse'): Release {
    const result: Release = { accepted: [], refused: 0 }
    for (const [key, entry] of this.held) {
      const verdict = judge(entry.record)
      if (verdict === 'wait') continue
      this.remove(key, entry)
      if (verdict === 'accept') result.accepted.push({ record: entry.record, from: entry.from })
      else result.refused++
    }
    return result
  }

  /** When the oldest held record's time is up (performance.now()), if any is held. */
  nextExpiry(): number | undefined {
    for (const entry of this.held.values()) return entry.until
    return undefined
  }

  /** Drops what waited past its time; returns how many. */
  expire(): number {
    const now = this.now()
    let expired = 0
    for (const [key, entry] of this.held) {
      if (entry.until > now) break
      this.remove(key, entry)
      expired++
    }
    return expired
  }

  private remove(key: string, entry: Held): void {
    this.held.delete(key)
    this.bytes -= entry.record.body.length
  }
}
