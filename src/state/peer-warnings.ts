// Warnings about one peer (a clock ahead, records of unknown kinds), at most once per peer in a while.
import type { Logger } from 'pino'

/** Clock skew is news again after a minute; a version mismatch does not change that fast. */
export const SKEW_WARN_EVERY_MS = 60_000
export const UNKNOWN_KIND_WARN_EVERY_MS = 10 * 60_000

/** Logs a warning about a peer the first time, then at most once every `everyMs`, however often its cause repeats. */
export class PeerWarnings {
  private readonly warnedAt = new Map<string, number>()

  constructor(
    private readonly log: Logger,
    private readonly everyMs: number,
  ) {}

  warn(peer: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now()
    if ((this.warnedAt.get(peer) ?? Number.NEGATIVE_INFINITY) > now - this.everyMs) return
    this.warnedAt.set(peer, now)
    this.log.warn({ peer, ...fields }, message)
  }
}

/**
 * Records of a kind this node does not know come from a newer (or otherwise incompatible) shoal: they are
 * dropped (reason `unknown-kind`) and the operator is told, so that an upgrade half done is seen in the log rather
 * than only in a counter. (The state layer knows no versions: the peer's is in its node record.)
 */
export function warnUnknownKind(warnings: PeerWarnings, origin: string, detail: string): void {
  warnings.warn(
    origin,
    { detail },
    `peer ${origin} writes records this node cannot read (${detail}): it likely runs a newer shoal ` +
      `(compare versions with "shoal node show ${origin}"); upgrade the older nodes`,
  )
}
