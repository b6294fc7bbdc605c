// Telling the operator when a peer writes records this node cannot read: the sign of a mixed-version mesh.
import type { Logger } from 'pino'

/** One warning per peer this often, however many of its records arrive. */
const WARN_EVERY_MS = 10 * 60_000

/**
 * Records of a kind this node does not know come from a newer (or otherwise incompatible) shoal: they are
 * dropped (reason `unknown-kind`) and the operator is told once per peer in a while, so that an upgrade half
 * done is seen in the log rather than only in a counter. (The state layer knows no versions: the peer's is in
 * its node record, `shoal node show <peer>`.)
 */
export class VersionSkewNotices {
  private readonly warnedAt = new Map<string, number>()

  constructor(private readonly log: Logger) {}

  /** A record of an unknown kind (its key named in `detail`) from `origin`. */
  unknownKind(origin: string, detail: string): void {
    const now = Date.now()
    if ((this.warnedAt.get(origin) ?? 0) > now - WARN_EVERY_MS) return
    this.warnedAt.set(origin, now)
    this.log.warn(
      { peer: origin, detail },
      `peer ${origin} writes records this node cannot read (${detail}): it likely runs a newer shoal ` +
        `(compare versions with "shoal node show ${origin}"); upgrade the older nodes`,
    )
  }
}
