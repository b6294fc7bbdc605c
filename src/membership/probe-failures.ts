// When to give up on a suspect's connection: after probes it left unanswered in a row, never on one late answer.
import { PROBES_BEFORE_DROP } from './constants.js'

export class ProbeFailures {
  private readonly failures = new Map<string, number>()

  constructor(private readonly limit = PROBES_BEFORE_DROP) {}

  /**
   * A probe of `peer` went unanswered; true if its connection should be dropped now: it is still suspect (not
   * heard from again meanwhile) and has left `limit` probes in a row unanswered.
   */
  failed(peer: string, stillSuspect: boolean): boolean {
    const count = (this.failures.get(peer) ?? 0) + 1
    this.failures.set(peer, count)
    return stillSuspect && count >= this.limit
  }

  /** The peer answered, or its state changed: count again from zero. */
  clear(peer: string): void {
    this.failures.delete(peer)
  }
}
